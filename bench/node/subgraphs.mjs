// The four subgraphs of the public federation gateway benchmark (graphql-hive/graphql-gateways-benchmark, MIT),
// implemented once, as bench/scenario.py describes them, on one port with the paths /accounts /inventory /products
// /reviews. Benchmark only (make bench-gateway), never shipped.
//
// Plain node:http, schemas from @apollo/subgraph's buildSubgraphSchema; each distinct query text is parsed and
// validated once and then run by graphql-jit (compiled once, about twice as fast as graphql-js's execute here) or,
// with --engine=graphql-js, by graphql-js. State is in memory and read-only.
//
//   node subgraphs.mjs --port P [--host 127.0.0.1] [--data data.json] [--engine graphql-jit|graphql-js]
// (or PORT, HOST, BENCH_DATA, SUBGRAPH_ENGINE in the environment). Prints "listening <port>" once it accepts.
import { readFileSync } from "node:fs";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { buildSubgraphSchema } from "@apollo/subgraph";
import { execute, parse, validate } from "graphql";
import { compileQuery, isCompiledQuery } from "graphql-jit";

const DEFAULT_DATA = fileURLToPath(
  new URL("../../services/gateway/tests/fixtures/bench-data.json", import.meta.url),
);
const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: process.env.PORT ?? "0" },
    host: { type: "string", default: process.env.HOST ?? "127.0.0.1" },
    data: { type: "string", default: process.env.BENCH_DATA ?? DEFAULT_DATA },
    engine: { type: "string", default: process.env.SUBGRAPH_ENGINE ?? "graphql-jit" },
  },
});
if (!["graphql-jit", "graphql-js"].includes(args.engine)) throw new Error(`unknown engine ${args.engine}`);

const data = JSON.parse(readFileSync(args.data, "utf8"));
const usersById = new Map(data.users.map((u) => [u.id, u]));
const productsByUpc = new Map(data.products.map((p) => [p.upc, p]));
const inventoryByUpc = new Map(data.inventory.map((i) => [i.upc, i]));
const reviewsById = new Map(data.reviews.map((r) => [r.id, r]));
const reviewsByUpc = new Map();
for (const review of data.reviews) {
  if (!reviewsByUpc.has(review.productUpc)) reviewsByUpc.set(review.productUpc, []);
  reviewsByUpc.get(review.productUpc).push(review);
}
const firstTwoReviews = data.reviews.slice(0, 2);
const sdl = (body) =>
  parse(`extend schema @link(url: "https://specs.apollo.dev/federation/v2.3",
    import: ["@key", "@shareable", "@external", "@requires", "@provides"])
  ${body}`);

const schemas = {
  accounts: buildSubgraphSchema({
    typeDefs: sdl(`
      type Query { me: User  user(id: ID!): User  users: [User] }
      type User @key(fields: "id") { id: ID!  name: String  username: String @shareable  birthday: Int }`),
    resolvers: {
      Query: {
        me: () => usersById.get("1"),
        user: (_, { id }) => usersById.get(id),
        users: () => data.users,
      },
      User: { __resolveReference: (ref) => usersById.get(ref.id) },
    },
  }),
  inventory: buildSubgraphSchema({
    typeDefs: sdl(`
      type Product @key(fields: "upc") {
        upc: String!
        weight: Int @external
        price: Int @external
        inStock: Boolean
        shippingEstimate: Int @requires(fields: "price weight")
      }`),
    resolvers: {
      Product: {
        // The representation carries price and weight (@requires): they are kept on the object.
        __resolveReference: (ref) => ({ ...ref, inStock: inventoryByUpc.get(ref.upc)?.inStock ?? null }),
        shippingEstimate: (product) => {
          if (product.price == null) return null;
          if (product.price > 1000) return 0;
          return product.weight == null ? null : Math.floor(product.weight / 2);
        },
      },
    },
  }),
  products: buildSubgraphSchema({
    typeDefs: sdl(`
      type Query { topProducts(first: Int = 5): [Product] }
      type Product @key(fields: "upc") { upc: String!  name: String  price: Int  weight: Int }`),
    resolvers: {
      Query: { topProducts: (_, { first }) => data.products.slice(0, first) },
      Product: { __resolveReference: (ref) => productsByUpc.get(ref.upc) },
    },
  }),
  reviews: buildSubgraphSchema({
    typeDefs: sdl(`
      type Review @key(fields: "id") {
        id: ID!
        body: String
        product: Product
        author: User @provides(fields: "username")
      }
      type User @key(fields: "id") { id: ID!  username: String @external  reviews: [Review] }
      type Product @key(fields: "upc") { upc: String!  reviews: [Review] }`),
    resolvers: {
      Review: {
        __resolveReference: (ref) => reviewsById.get(ref.id),
        product: (review) => ({ upc: review.productUpc }),
        author: () => ({ id: "1", username: "urigo" }),
      },
      User: {
        __resolveReference: (ref) => ({ id: ref.id, username: "user" }),
        reviews: () => firstTwoReviews,
      },
      Product: {
        __resolveReference: (ref) => ({ upc: ref.upc }),
        reviews: (product) => reviewsByUpc.get(product.upc) ?? [],
      },
    },
  }),
};

// Per subgraph: query text -> runner(variables, operationName) or an error body. Bounded so that a client sending
// endless distinct texts cannot grow it without limit.
const CACHE_LIMIT = 1000;
const caches = Object.fromEntries(Object.keys(schemas).map((name) => [name, new Map()]));

function prepare(schema, query) {
  let document;
  try {
    document = parse(query);
  } catch (error) {
    return { errors: [{ message: error.message }] };
  }
  const errors = validate(schema, document);
  if (errors.length) return { errors: errors.map((e) => ({ message: e.message })) };
  if (args.engine === "graphql-jit") {
    const compiled = compileQuery(schema, document);
    if (!isCompiledQuery(compiled)) return { errors: compiled.errors.map((e) => ({ message: e.message })) };
    return { run: (variables) => compiled.query(undefined, {}, variables) };
  }
  return {
    run: (variables, operationName) =>
      execute({ schema, document, variableValues: variables, operationName, contextValue: {} }),
  };
}

async function answer(name, body) {
  let request;
  try {
    request = JSON.parse(body);
  } catch {
    return [400, { errors: [{ message: "body is not JSON" }] }];
  }
  if (typeof request?.query !== "string") return [400, { errors: [{ message: "no query" }] }];
  const cache = caches[name];
  let prepared = cache.get(request.query);
  if (prepared === undefined) {
    prepared = prepare(schemas[name], request.query);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(request.query, prepared);
  }
  if (prepared.errors) return [400, { errors: prepared.errors }];
  return [200, await prepared.run(request.variables ?? {}, request.operationName)];
}

function send(res, status, payload) {
  const bytes = Buffer.from(JSON.stringify(payload));
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": bytes.length });
  res.end(bytes);
}

const server = http.createServer((req, res) => {
  const name = req.url.slice(1).split("?")[0];
  if (req.method === "GET" && name === "healthz") return send(res, 200, { ok: true });
  if (!(name in schemas)) return send(res, 404, { errors: [{ message: `no subgraph at ${req.url}` }] });
  if (req.method !== "POST") return send(res, 405, { errors: [{ message: "POST only" }] });
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    answer(name, Buffer.concat(chunks).toString("utf8")).then(
      ([status, payload]) => send(res, status, payload),
      (error) => send(res, 500, { errors: [{ message: String(error?.message ?? error) }] }),
    );
  });
});
// Gateways keep pooled connections open between bursts: do not close them under their feet after node's 5 s default.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.listen(Number(args.port), args.host, () => {
  console.log(`listening ${server.address().port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
