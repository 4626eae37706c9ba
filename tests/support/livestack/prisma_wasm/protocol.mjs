// Translation between the GraphQL engine protocol (what prisma-client-py 0.11 speaks) and the JSON
// engine protocol (the only one Prisma's WASM query engine accepts).
//
// prisma-client-py renders every operation as a small GraphQL document:
//
//   mutation {
//     result: createOneLiteLLM_TeamTable
//     (
//       data: {
//         team_id: "t1"
//         metadata: "{\"k\": 1}"
//       }
//     )
//     {
//       team_id
//       metadata
//     }
//   }
//
// Argument values are JSON literals (strings, numbers, booleans, null), objects with bare keys,
// and lists. The GraphQL protocol let the engine coerce strings by the schema type of the field
// they land in; the JSON protocol wants Json and Bytes values tagged ({"$type": "Json", ...}),
// and a bare string on a Json field would be stored as a JSON *string*. So the translator reads
// the datamodel to know which fields are Json / Bytes / relations, and tags values on the way in.
// On the way out it removes the JSON protocol's type tags ({"$type": "DateTime", "value": ...}),
// renames the result key back to the GraphQL alias (`result`) and turns the compact raw-query
// result ({columns, types, rows}) back into the typed rows prisma-client-py deserializes.

const SCALARS = new Set(['String', 'Boolean', 'Int', 'BigInt', 'Float', 'Decimal', 'DateTime', 'Json', 'Bytes']);

// ---------------------------------------------------------------- datamodel
export function parseDatamodel(text) {
  const blocks = [];
  const blockRe = /^\s*(model|view|type|enum)\s+(\w+)\s*\{([\s\S]*?)^\s*\}/gm;
  let match;
  while ((match = blockRe.exec(text)) !== null) blocks.push({ kind: match[1], name: match[2], body: match[3] });
  const enums = new Set(blocks.filter((b) => b.kind === 'enum').map((b) => b.name));
  const modelNames = new Set(blocks.filter((b) => b.kind !== 'enum').map((b) => b.name));
  const models = {};
  for (const block of blocks) {
    if (block.kind === 'enum') continue;
    const fields = {};
    for (const rawLine of block.body.split('\n')) {
      const line = rawLine.replace(/\/\/.*$/, '').trim();
      if (!line || line.startsWith('@@')) continue;
      const [name, typeToken] = line.split(/\s+/);
      if (!name || !typeToken) continue;
      const base = typeToken.replace(/[?[\]]/g, '');
      let kind = 'scalar';
      if (base === 'Json') kind = 'json';
      else if (base === 'Bytes') kind = 'bytes';
      else if (enums.has(base)) kind = 'enum';
      else if (modelNames.has(base)) kind = block.kind === 'type' ? 'composite' : 'relation';
      else if (!SCALARS.has(base)) kind = 'scalar'; // Unsupported("...") and friends
      fields[name] = { kind, type: base, list: typeToken.includes('[]') };
    }
    models[block.name] = { fields };
  }
  return { models };
}

// ---------------------------------------------------------------- GraphQL parsing
class Lexer {
  constructor(text) {
    this.text = text;
    this.pos = 0;
  }

  skip() {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t[this.pos];
      if (c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === ',' || c === '\ufeff') this.pos++;
      else if (c === '#') while (this.pos < t.length && t[this.pos] !== '\n') this.pos++;
      else break;
    }
  }

  peek() {
    this.skip();
    return this.text[this.pos];
  }

  expect(ch) {
    this.skip();
    if (this.text[this.pos] !== ch) this.error(`expected '${ch}'`);
    this.pos++;
  }

  name() {
    this.skip();
    const m = /^[_A-Za-z][_0-9A-Za-z]*/.exec(this.text.slice(this.pos, this.pos + 256));
    if (!m) this.error('expected a name');
    this.pos += m[0].length;
    return m[0];
  }

  string() {
    // JSON string syntax (prisma-client-py renders strings with json.dumps).
    this.skip();
    const start = this.pos;
    if (this.text[this.pos] !== '"') this.error('expected a string');
    this.pos++;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === '\\') this.pos += 2;
      else if (c === '"') {
        this.pos++;
        return JSON.parse(this.text.slice(start, this.pos));
      } else this.pos++;
    }
    this.error('unterminated string');
  }

  number() {
    this.skip();
    const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.pos, this.pos + 64));
    if (!m) this.error('expected a number');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  error(message) {
    const near = this.text.slice(Math.max(0, this.pos - 40), this.pos + 40);
    throw new ProtocolError(`GraphQL parse error at ${this.pos}: ${message} near ${JSON.stringify(near)}`);
  }
}

export class ProtocolError extends Error {}

function parseValue(lx) {
  const c = lx.peek();
  if (c === '"') return lx.string();
  if (c === '[') {
    lx.expect('[');
    const items = [];
    while (lx.peek() !== ']') items.push(parseValue(lx));
    lx.expect(']');
    return items;
  }
  if (c === '{') {
    lx.expect('{');
    const obj = {};
    while (lx.peek() !== '}') {
      const key = lx.peek() === '"' ? lx.string() : lx.name();
      lx.expect(':');
      obj[key] = parseValue(lx);
    }
    lx.expect('}');
    return obj;
  }
  if (c === '-' || (c >= '0' && c <= '9')) return lx.number();
  const word = lx.name();
  if (word === 'true') return true;
  if (word === 'false') return false;
  if (word === 'null') return null;
  if (word === 'NaN') return NaN;
  if (word === 'Infinity') return Infinity;
  return word; // a bare enum value
}

function parseSelectionSet(lx) {
  lx.expect('{');
  const fields = [];
  while (lx.peek() !== '}') {
    let name = lx.name();
    let alias = null;
    if (lx.peek() === ':') {
      lx.expect(':');
      alias = name;
      name = lx.name();
    }
    let args = null;
    if (lx.peek() === '(') {
      lx.expect('(');
      args = {};
      while (lx.peek() !== ')') {
        const key = lx.name();
        lx.expect(':');
        args[key] = parseValue(lx);
      }
      lx.expect(')');
    }
    const selection = lx.peek() === '{' ? parseSelectionSet(lx) : null;
    fields.push({ alias, name, args, selection });
  }
  lx.expect('}');
  return fields;
}

export function parseGraphqlDocument(text) {
  const lx = new Lexer(text);
  let operation = 'query';
  if (lx.peek() !== '{') {
    operation = lx.name();
    if (operation !== 'query' && operation !== 'mutation') lx.error(`unsupported operation ${operation}`);
    if (lx.peek() !== '{') lx.name(); // optional operation name
  }
  const fields = parseSelectionSet(lx);
  if (lx.peek() !== undefined) lx.error('trailing content');
  if (fields.length !== 1) throw new ProtocolError(`expected exactly one root field, got ${fields.length}`);
  return { operation, field: fields[0] };
}

// ---------------------------------------------------------------- request translation
const ACTIONS = [
  'findUnique', 'findFirst', 'findMany', 'createOne', 'createMany', 'updateOne', 'updateMany',
  'deleteOne', 'deleteMany', 'upsertOne', 'aggregate', 'groupBy',
];
const MODEL_ACTION_RE = new RegExp(`^(${ACTIONS.join('|')})(\\w+?)(OrThrow)?$`);

export class Translator {
  constructor(datamodel) {
    this.dm = parseDatamodel(datamodel);
  }

  model(name) {
    return this.dm.models[name] ?? { fields: {} };
  }

  related(modelName, fieldName) {
    const field = this.model(modelName).fields[fieldName];
    return field && (field.kind === 'relation' || field.kind === 'composite') ? field.type : null;
  }

  // One GraphQL request ({query, variables}) -> one JSON-protocol request, plus the key to answer under.
  request(body) {
    const { field } = parseGraphqlDocument(body.query);
    const alias = field.alias ?? field.name;
    if (field.name === 'queryRaw' || field.name === 'executeRaw') {
      const args = { ...(field.args ?? {}) };
      if (Array.isArray(args.parameters)) args.parameters = JSON.stringify(args.parameters);
      if (args.parameters === undefined) args.parameters = '[]';
      return { alias, action: field.name, json: { action: field.name, query: { arguments: args, selection: {} } } };
    }
    const m = MODEL_ACTION_RE.exec(field.name);
    if (!m) throw new ProtocolError(`unsupported root field ${field.name}`);
    const [, base, modelName, orThrow] = m;
    if (!this.dm.models[modelName]) throw new ProtocolError(`unknown model ${modelName} in ${field.name}`);
    const action = base + (orThrow ?? '');
    return {
      alias,
      action: `${base}${modelName}${orThrow ?? ''}`,
      json: {
        modelName,
        action,
        query: {
          arguments: this.args(modelName, field.args ?? {}),
          selection: this.selection(modelName, field.selection ?? []),
        },
      },
    };
  }

  selection(modelName, fields) {
    const out = {};
    for (const f of fields) {
      if (!f.selection && !f.args) {
        out[f.name] = true;
        continue;
      }
      const target = this.related(modelName, f.name);
      const entry = {};
      if (f.args) entry.arguments = this.args(target ?? modelName, f.args);
      entry.selection = f.selection ? this.selection(target ?? modelName, f.selection) : { $scalars: true };
      out[f.name] = entry;
    }
    return out;
  }

  args(modelName, args) {
    const out = {};
    for (const [key, value] of Object.entries(args)) {
      if (key === 'where' || key === 'cursor' || key === 'having') out[key] = this.where(modelName, value);
      else if (key === 'data') {
        out[key] = Array.isArray(value) ? value.map((d) => this.data(modelName, d)) : this.data(modelName, value);
      } else if (key === 'create' || key === 'update') out[key] = this.data(modelName, value);
      else out[key] = value;
    }
    return out;
  }

  // Values written to model fields: tag Json/Bytes, recurse into nested relation writes.
  data(modelName, data) {
    if (!data || typeof data !== 'object' || Array.isArray(data)) return data;
    const fields = this.model(modelName).fields;
    const out = {};
    for (const [key, value] of Object.entries(data)) {
      const field = fields[key];
      if (!field) out[key] = value;
      else if (field.kind === 'json') out[key] = tagJson(value);
      else if (field.kind === 'bytes') out[key] = mapOps(value, (v) => tag('Bytes', v), ['set']);
      else if (field.kind === 'relation') out[key] = this.nestedWrite(field.type, value);
      else out[key] = value;
    }
    return out;
  }

  nestedWrite(modelName, ops) {
    if (!ops || typeof ops !== 'object') return ops;
    const out = {};
    const each = (v, fn) => (Array.isArray(v) ? v.map(fn) : fn(v));
    for (const [op, value] of Object.entries(ops)) {
      switch (op) {
        case 'create':
          out[op] = each(value, (d) => this.data(modelName, d));
          break;
        case 'createMany':
          out[op] = { ...value, data: each(value?.data, (d) => this.data(modelName, d)) };
          break;
        case 'connectOrCreate':
          out[op] = each(value, (v) => ({ ...v, where: this.where(modelName, v.where), create: this.data(modelName, v.create) }));
          break;
        case 'upsert':
          out[op] = each(value, (v) => ({
            ...v,
            ...(v.where ? { where: this.where(modelName, v.where) } : {}),
            create: this.data(modelName, v.create),
            update: this.data(modelName, v.update),
          }));
          break;
        case 'update':
        case 'updateMany':
          out[op] = each(value, (v) => (v && typeof v === 'object' && 'data' in v
            ? { ...v, ...(v.where ? { where: this.where(modelName, v.where) } : {}), data: this.data(modelName, v.data) }
            : this.data(modelName, v)));
          break;
        case 'connect':
        case 'disconnect':
        case 'delete':
        case 'set':
        case 'deleteMany':
          out[op] = typeof value === 'object' && value !== null ? each(value, (w) => this.where(modelName, w)) : value;
          break;
        default:
          out[op] = value;
      }
    }
    return out;
  }

  // Filters: tag the values compared against Json/Bytes fields, recurse through relations and AND/OR/NOT.
  where(modelName, where) {
    if (!where || typeof where !== 'object') return where;
    if (Array.isArray(where)) return where.map((w) => this.where(modelName, w));
    const fields = this.model(modelName).fields;
    const out = {};
    for (const [key, value] of Object.entries(where)) {
      if (key === 'AND' || key === 'OR' || key === 'NOT') {
        out[key] = this.where(modelName, value);
        continue;
      }
      const field = fields[key];
      if (!field) {
        // A compound unique key (a_b: {a, b}) or an aggregate in `having`: leave as is.
        out[key] = value;
      } else if (field.kind === 'json') {
        out[key] = jsonFilter(value);
      } else if (field.kind === 'bytes') {
        out[key] = typeof value === 'string' ? tag('Bytes', value) : mapOps(value, (v) => tag('Bytes', v), ['equals', 'not', 'in', 'notIn']);
      } else if (field.kind === 'relation') {
        if (value && typeof value === 'object' && ['is', 'isNot', 'some', 'every', 'none'].some((k) => k in value)) {
          const rel = {};
          for (const [op, sub] of Object.entries(value)) rel[op] = this.where(field.type, sub);
          out[key] = rel;
        } else {
          out[key] = this.where(field.type, value);
        }
      } else {
        out[key] = value;
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- response translation
  response(parsed, alias, action) {
    if (parsed && typeof parsed === 'object' && parsed.data && typeof parsed.data === 'object') {
      const value = parsed.data[action];
      let result = untag(value);
      if (action === 'queryRaw') result = typedRawRows(value);
      const out = { ...parsed, data: { [alias]: result } };
      return out;
    }
    return parsed;
  }
}

function tag(type, value) {
  if (value === null || value === undefined) return value;
  if (typeof value === 'object' && value.$type) return value;
  return { $type: type, value: typeof value === 'string' ? value : String(value) };
}

function tagJson(value) {
  if (value === null || value === undefined) return value;
  if (typeof value === 'object' && value.$type) return value;
  // prisma-client-py sends Json as its serialized text; anything else is serialized here.
  return { $type: 'Json', value: typeof value === 'string' ? value : JSON.stringify(value) };
}

function mapOps(value, fn, ops) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fn(value);
  const out = { ...value };
  for (const op of ops) {
    if (op in out) out[op] = Array.isArray(out[op]) ? out[op].map(fn) : fn(out[op]);
  }
  return out;
}

function jsonFilter(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { equals: tagJson(value) };
  const out = { ...value };
  for (const op of ['equals', 'not', 'array_contains', 'array_starts_with', 'array_ends_with', 'gt', 'gte', 'lt', 'lte']) {
    if (op in out) out[op] = tagJson(out[op]);
  }
  return out;
}

// JSON-protocol output values carry type tags; the GraphQL protocol returned bare values.
export function untag(value) {
  if (Array.isArray(value)) return value.map(untag);
  if (value === null || typeof value !== 'object') return value;
  if (typeof value.$type === 'string' && 'value' in value && Object.keys(value).length === 2) {
    if (value.$type === 'BigInt') {
      const n = Number(value.value);
      return Number.isSafeInteger(n) ? n : value.value;
    }
    return value.value; // DateTime (ISO text), Json (serialized text), Decimal (text), Bytes (base64)
  }
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = untag(v);
  return out;
}

// {columns, types, rows} -> [{column: {prisma__type, prisma__value}}], prisma-client-py's raw format.
function typedRawRows(value) {
  if (!value || !Array.isArray(value.columns)) return value;
  const { columns, types, rows } = value;
  return rows.map((row) => {
    const obj = {};
    columns.forEach((col, i) => {
      const type = types[i] ?? 'unknown';
      const cell = row[i];
      if (type.endsWith('-array') && Array.isArray(cell)) {
        const inner = type.slice(0, -'-array'.length);
        obj[col] = { prisma__type: 'array', prisma__value: cell.map((v) => ({ prisma__type: inner, prisma__value: v })) };
      } else {
        obj[col] = { prisma__type: cell === null ? 'null' : type, prisma__value: cell };
      }
    });
    return obj;
  });
}
