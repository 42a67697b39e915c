// The schemas of a Volume's `source` (a local file or an http(s) URL) and of its
// `sourceSha256`. No message repeats the value: a URL may carry a password.
import { z } from "zod";
import { absolutePath } from "../validation";

const localPath = absolutePath("source");

/** Why a URL cannot be a source, or null. */
function urlProblem(source: string): string | null {
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    return "source is not a valid URL (an http:// or https:// URL, or an absolute path of a local file)";
  }
  if (url.hostname === "") return "source URL has no host";
  if (/[\0-\x20\x7f]/.test(source)) return "source URL must not contain spaces or control characters (percent-encode them)";
  return null;
}

/** `source`: an absolute path of a local file, or an http:// or https:// URL. */
export const imageSource = z.string({ error: "source must be a string" }).superRefine((s, ctx) => {
  if (/^https?:\/\//i.test(s)) {
    const why = urlProblem(s);
    if (why) ctx.addIssue({ code: "custom", message: why });
    return;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(s)) {
    ctx.addIssue({ code: "custom", message: "source URLs must be http:// or https://; anything else must be an absolute path of a local file" });
    return;
  }
  const asPath = localPath.safeParse(s);
  if (!asPath.success)
    for (const issue of asPath.error.issues) ctx.addIssue({ code: "custom", message: `${issue.message} (or an http:// or https:// URL)` });
});

export const sha256Hex = z
  .string({ error: "sourceSha256 must be a string" })
  .regex(/^[0-9a-fA-F]{64}$/, { error: "sourceSha256 must be 64 hexadecimal digits: the sha256 of the source's bytes, as `sha256sum` prints it" });
