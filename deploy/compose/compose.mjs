// Composes subgraph SDLs into a supergraph with The Guild's MIT composer (@theguild/federation-composition).
// usage: node compose.mjs [SUBGRAPHS_DIR] [OUT_FILE]
//   SUBGRAPHS_DIR holds <name>.graphql files and, optionally, subgraphs.json ({"name": "url"});
//   defaults: ../subgraphs and ../supergraph.graphql next to this script. Exits 1 with every composition error.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'graphql';
import { composeServices } from '@theguild/federation-composition';

const here = dirname(fileURLToPath(import.meta.url));
const dir = resolve(process.argv[2] ?? join(here, '..', 'subgraphs'));
const out = process.argv[3] ?? join(here, '..', 'supergraph.graphql');
const urlsFile = join(dir, 'subgraphs.json');
const urls = existsSync(urlsFile) ? JSON.parse(readFileSync(urlsFile, 'utf8')) : {};

const services = readdirSync(dir)
  .filter((f) => f.endsWith('.graphql'))
  .sort()
  .map((file) => {
    const name = file.replace(/\.graphql$/, '');
    const sdl = readFileSync(join(dir, file), 'utf8');
    let typeDefs;
    try {
      typeDefs = parse(sdl);
    } catch (error) {
      console.error(`${file}: ${error.message}`);
      process.exit(1);
    }
    return { name, typeDefs, url: urls[name] ?? `http://${name}/graphql` };
  });
if (services.length === 0) {
  console.error(`no subgraph SDL (*.graphql) in ${dir}`);
  process.exit(1);
}
const result = composeServices(services);
if (result.errors && result.errors.length > 0) {
  for (const error of result.errors) console.error(`composition error: ${error.message}`);
  process.exit(1);
}
const text = result.supergraphSdl.endsWith('\n') ? result.supergraphSdl : `${result.supergraphSdl}\n`;
if (out === '-') process.stdout.write(text);
else writeFileSync(out, text);
