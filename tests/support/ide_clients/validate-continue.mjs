// Load a Continue config.yaml with Continue's own parser and schema (@continuedev/config-yaml):
// `parseConfigYaml` (YAML + the zod `configYamlSchema`) and `validateConfigYaml` (its extra checks, fatal or
// warnings). Prints {"errors": [...], "warnings": [...]} as JSON; exit 0 either way (the caller judges).
import { readFileSync } from "node:fs";
import { parseConfigYaml, validateConfigYaml } from "@continuedev/config-yaml";

const text = readFileSync(process.argv[2], "utf8");
const out = { errors: [], warnings: [] };
try {
  const config = parseConfigYaml(text);
  for (const problem of validateConfigYaml(config)) {
    (problem.fatal ? out.errors : out.warnings).push(problem.message);
  }
} catch (e) {
  out.errors.push(e instanceof Error ? e.message : String(e));
}
process.stdout.write(JSON.stringify(out) + "\n");
