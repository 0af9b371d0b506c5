// Reading the operator's files: JSON or YAML by extension ("-" is stdin, JSON or YAML).
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { CliError } from "./etcd";

export function readText(file: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

export function readData(file: string): unknown {
  const text = readText(file);
  const yaml = /\.ya?ml$/i.test(file) || (file === "-" && !/^\s*[[{]/.test(text));
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new CliError(`${file}: malformed ${yaml ? "YAML" : "JSON"}: ${(e as Error).message.split("\n")[0]}`);
  }
}
