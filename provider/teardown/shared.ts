// The one vocabulary of every teardown rule family: a plan is either allowed,
// with the steps to carry out, or refused, with the message to show.
export type Decision<Step> = { allowed: true; steps: Step[] } | { allowed: false; message: string };

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function nameList(names: string[], max = 10): string {
  const shown = names
    .slice(0, max)
    .map((n) => `"${n}"`)
    .join(", ");
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}
