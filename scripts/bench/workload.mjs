// The measured work: N full lifecycles (volume, domain, snapshot; then snapshot,
// domain, volume deleted), either through the providers exactly as Pulumi's
// engine calls them ("provider"), or as the same libvirt calls made directly
// through the provider's own binding layer ("floor"). Both run in the same
// process, on the same connection pool, with the same operation concurrency.
import { createRequire } from "node:module";
import { join } from "node:path";

/** Loads a build (a directory holding dist/provider) of libvirt-pulumi. */
export function loadBuild(pkgDir) {
  const require = createRequire(join(pkgDir, "package.json"));
  const dist = join(pkgDir, "dist/provider");
  return {
    provider: require(join(dist, "index.js")),
    connection: require(join(dist, "libvirt/connection.js")),
    domain: require(join(dist, "libvirt/domain.js")),
    snapshot: require(join(dist, "libvirt/snapshot.js")),
    storage: require(join(dist, "libvirt/storage.js")),
    gen: require(join(dist, "libvirt/libvirt.gen.js")),
    native: require(join(dist, "libvirt/native.js")),
    require,
    dist,
  };
}

/**
 * A counting semaphore: the engine runs at most `limit` resource operations at
 * once (pulumi --parallel). Each operation's own duration (after the wait for a
 * slot) is recorded under its name in `times`.
 */
export function semaphore(limit, times = new Map()) {
  let active = 0;
  const queue = [];
  const next = () => {
    if (active >= limit || queue.length === 0) return;
    active++;
    queue.shift()();
  };
  const op = async (name, fn) => {
    await new Promise((r) => {
      queue.push(r);
      next();
    });
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      const t = times.get(name) ?? { count: 0, totalMs: 0, maxMs: 0 };
      const ms = performance.now() - t0;
      t.count++;
      t.totalMs += ms;
      t.maxMs = Math.max(t.maxMs, ms);
      times.set(name, t);
      active--;
      next();
    }
  };
  op.times = times;
  return op;
}

const opSummary = (times) =>
  Object.fromEntries(
    [...times.entries()].map(([k, t]) => [k, { count: t.count, meanMs: Math.round(t.totalMs / t.count), maxMs: Math.round(t.maxMs) }]),
  );

/**
 * Counts every libvirt call made through the binding (koffi `.async`, i.e. a
 * worker-thread call that may reach the daemon) and every child process the
 * provider spawns (qemu-img), with the time each took.
 */
export function instrument(b) {
  const n = b.native.native();
  const stats = { calls: new Map() };
  for (const name of Object.keys(n.async)) {
    const fn = n.async[name];
    n.async[name] = (...args) => {
      const t0 = performance.now();
      const done = () => {
        const s = stats.calls.get(name) ?? { count: 0, ms: 0 };
        s.count++;
        s.ms += performance.now() - t0;
        stats.calls.set(name, s);
      };
      const p = fn(...args);
      p.then(done, done);
      return p;
    };
  }
  return {
    reset() {
      stats.calls.clear();
    },
    snapshot() {
      const calls = Object.fromEntries(
        [...stats.calls.entries()].sort((a, b) => b[1].count - a[1].count).map(([k, v]) => [k, { count: v.count, ms: Math.round(v.ms) }]),
      );
      const total = [...stats.calls.values()].reduce((a, v) => ({ count: a.count + v.count, ms: a.ms + v.ms }), { count: 0, ms: 0 });
      return { libvirtCalls: total.count, libvirtCallMs: Math.round(total.ms), calls };
    },
    stats,
  };
}

export const URI_DEFAULT = "qemu:///system";

/** The per-domain names and the inputs a Pulumi program would give. */
export function specs(prefix, n, pool, uri) {
  return Array.from({ length: n }, (_, i) => {
    const name = `${prefix}${String(i).padStart(2, "0")}`;
    return {
      name,
      volume: { pool, name: `${name}.qcow2`, capacity: "16MiB", format: "qcow2", uri },
      domain: {
        name,
        uri,
        type: "kvm",
        memoryMiB: 64,
        vcpus: 1,
        shutdownTimeoutSeconds: 0,
        disks: [{ volume: { pool, name: `${name}.qcow2` }, format: "qcow2" }],
      },
      snapshot: { name: "bench", description: "taken by the benchmark" },
    };
  });
}

/** What crosses the engine's gRPC boundary is plain data. */
const wire = (o) => JSON.parse(JSON.stringify(o));

/** Runs every chain concurrently; the up phase completes for all before the destroy phase starts (pulumi up, then pulumi destroy). */
async function twoPhases(items, up, down, op) {
  const errors = [];
  const t0 = performance.now();
  const upResults = await Promise.allSettled(items.map((it) => up(it)));
  const t1 = performance.now();
  upResults.forEach((r) => r.status === "rejected" && errors.push(`up: ${r.reason?.message ?? r.reason}`));
  const made = upResults.map((r) => (r.status === "fulfilled" ? r.value : null)).filter(Boolean);
  const downResults = await Promise.allSettled(made.map((m) => down(m)));
  const t2 = performance.now();
  downResults.forEach((r) => r.status === "rejected" && errors.push(`destroy: ${r.reason?.message ?? r.reason}`));
  return { upMs: t1 - t0, destroyMs: t2 - t1, totalMs: t2 - t0, errors, ops: opSummary(op.times) };
}

/** The engine's calls for one domain: check+create volume, domain, snapshot; later delete them in reverse. */
export function providerSide(b, parallel) {
  const { domainProvider, snapshotProvider, volumeProvider } = b.provider;
  return async (items) => {
    const op = semaphore(parallel);
    const checked = async (provider, news) => {
      const { inputs, failures } = await provider.check({}, wire(news));
      if (failures?.length) throw new Error(`check failed: ${JSON.stringify(failures)}`);
      return wire(inputs);
    };
    return twoPhases(
      items,
      async (s) => {
        const vol = await op("volume create", async () => volumeProvider.create(await checked(volumeProvider, s.volume)));
        const volOuts = wire(vol.outs);
        const dom = await op("domain create", async () =>
          domainProvider.create(
            await checked(domainProvider, { ...s.domain, disks: [{ volume: { pool: volOuts.pool, name: volOuts.name }, format: volOuts.format }] }),
          ),
        );
        const domOuts = wire(dom.outs);
        const snap = await op("snapshot create", async () =>
          snapshotProvider.create(await checked(snapshotProvider, { ...s.snapshot, domain: domOuts.uuid, uri: domOuts.uri })),
        );
        return { vol: { id: vol.id, outs: volOuts }, dom: { id: dom.id, outs: domOuts }, snap: { id: snap.id, outs: wire(snap.outs) } };
      },
      async (m) => {
        await op("snapshot delete", () => snapshotProvider.delete(m.snap.id, m.snap.outs));
        await op("domain delete", () => domainProvider.delete(m.dom.id, m.dom.outs));
        await op("volume delete", () => volumeProvider.delete(m.vol.id, m.vol.outs));
      },
      op,
    );
  };
}

/**
 * The floor: the calls libvirt and QEMU must serve anyway, made directly through
 * the binding (withConnection + handles), with the same XML and flags the
 * providers use (built before the clock starts), one connection lease per
 * operation as the providers do.
 */
export function floorSide(b, parallel) {
  const { withConnection } = b.connection;
  const { withDomain } = b.domain;
  const { virDomainDefineFlags, virDomainUndefineFlagsValues } = b.gen;
  // Not on the public entry: straight from the built modules.
  const { checkDomainInputs } = b.require(join(b.dist, "domain/inputs.js"));
  const { buildDomainXml } = b.require(join(b.dist, "domain/xml.js"));
  const { checkVolumeInputs } = b.require(join(b.dist, "volume/inputs.js"));
  const { buildVolumeXml } = b.require(join(b.dist, "volume/xml.js"));
  const { checkSnapshotInputs } = b.require(join(b.dist, "snapshot/inputs.js"));
  const { buildSnapshotXml } = b.require(join(b.dist, "snapshot/xml.js"));
  const { createFlags } = b.require(join(b.dist, "snapshot/provider.js"));
  return async (items) => {
    // XML and flags exactly as the providers make them, prepared outside the timed region.
    const prepared = await Promise.all(
      items.map(async (s) => {
        const v = (await checkVolumeInputs(s.volume)).inputs;
        const d = checkDomainInputs(s.domain).inputs;
        const sn = checkSnapshotInputs({ ...s.snapshot, domain: "00000000-0000-0000-0000-000000000000", uri: s.domain.uri }).inputs;
        return {
          s,
          volXml: buildVolumeXml({ name: v.name, capacity: v.capacity, format: v.format }),
          domXml: buildDomainXml(d, { type: d.type }),
          snapXml: buildSnapshotXml(sn),
          snapFlags: createFlags(sn),
        };
      }),
    );
    const op = semaphore(parallel);
    const uri = items[0]?.domain.uri;
    const pool = items[0]?.volume.pool;
    return twoPhases(
      prepared,
      async (p) => {
        await op("volume create", () =>
          withConnection({ uri }, async (conn) => {
            const pl = await conn.lookupPool(pool);
            try {
              (await pl.createVolume(p.volXml, 0, `"${p.s.volume.name}"`)).free();
            } finally {
              pl.free();
            }
          }),
        );
        const uuid = await op("domain create", () =>
          withConnection({ uri }, async (conn) => {
            const dom = await conn.defineDomain(p.domXml, virDomainDefineFlags.VIR_DOMAIN_DEFINE_VALIDATE, `"${p.s.name}"`);
            try {
              await dom.start();
              return dom.uuid();
            } finally {
              dom.free();
            }
          }),
        );
        await op("snapshot create", () =>
          withConnection({ uri }, (conn) =>
            withDomain(conn, uuid, async (dom) => {
              (await dom.createSnapshot(p.snapXml, p.snapFlags, `"${p.s.snapshot.name}"`)).free();
            }),
          ),
        );
        return { p, uuid };
      },
      async ({ p, uuid }) => {
        await op("snapshot delete", () =>
          withConnection({ uri }, (conn) =>
            withDomain(conn, uuid, async (dom) => {
              const snap = await dom.lookupSnapshot(p.s.snapshot.name);
              try {
                await snap.delete(0);
              } finally {
                snap.free();
              }
            }),
          ),
        );
        await op("domain delete", () =>
          withConnection({ uri }, (conn) =>
            withDomain(conn, uuid, async (dom) => {
              await dom.destroy();
              await dom.undefine(virDomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_NVRAM);
            }),
          ),
        );
        await op("volume delete", () =>
          withConnection({ uri }, async (conn) => {
            const pl = await conn.lookupPool(pool);
            try {
              const vol = await pl.lookupVolume(p.s.volume.name);
              try {
                await vol.delete(0);
              } finally {
                vol.free();
              }
            } finally {
              pl.free();
            }
          }),
        );
      },
      op,
    );
  };
}
