// ESLint for the TypeScript sources, tests and scripts (npm run lint; CI runs it).
// Formatting is Prettier's job (.prettierrc.json); these rules are about meaning.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "examples/*/node_modules/", "bench-results/", "provider/libvirt/libvirt.gen.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Tests poke at loosely typed provider results and SDK internals.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    // CommonJS helpers of the benchmark and the serialized provider's require() calls.
    files: ["**/*.cjs", "sdk/serializable.ts"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
