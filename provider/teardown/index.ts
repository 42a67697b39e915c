// Every teardown rule, one module per family (docs: docs/design.md's teardown table).
export * from "./domain";
export * from "./snapshot";
export * from "./volume";
export * from "./pool";
export * from "./network";
export * from "./revert";
export { nameList, type Decision } from "./shared";
export { isTruthyEnv } from "./env";
export { TeardownRefusedError } from "./refused";
export * from "./keep-replace";
