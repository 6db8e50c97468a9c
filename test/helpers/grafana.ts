/**
 * What Grafana and grafana-clickhouse-datasource do to a panel's SQL before
 * ClickHouse sees it, in the same order and with the same rules:
 *
 *   1. the plugin's frontend resolves `$__conditionalAll(cond, $var)`: `1=1`
 *      when the variable's value is All (`$__all`) or empty, else `cond`
 *      (CHDatasource.applyConditionalAll);
 *   2. Grafana's template service replaces `$var`, `${var}`, `${var:format}`,
 *      with the plugin's formatter: a multi-value list becomes `'a','b'`, a
 *      single value goes in as it is; `${__from:date:seconds}` is the range start;
 *   3. the plugin's backend expands its macros (pkg/macros/macros.go):
 *      `$__timeFilter(c)` → `c >= toDateTime(<s>) AND c <= toDateTime(<s>)`,
 *      `$__timeInterval(c)` → `toStartOfInterval(toDateTime(c), INTERVAL <n> second)`,
 *      `$__interval_s`, `$__fromTime`, `$__toTime` and their `_ms` forms.
 */

export interface VariableState {
  /** The current value: `['$__all']` when All is selected. */
  value: string | string[]
  /** Every option's value: what All stands for where it is interpolated. */
  options?: string[]
}

export interface QueryContext {
  from: Date
  to: Date
  /** Grafana's $__interval for the panel, in seconds. */
  intervalSeconds: number
  variables: Record<string, VariableState>
}

/** The argument list of a call whose `(` is at `open`, split at top-level commas, as the plugin splits it. */
function callArguments(sql: string, open: number): { args: string[]; end: number } | null {
  let depth = 0
  let start = open + 1
  const args: string[] = []
  for (let i = open; i < sql.length; i++) {
    const char = sql[i]
    if (char === '(') depth++
    else if (char === ')') {
      depth--
      if (depth === 0) {
        args.push(sql.slice(start, i))
        return { args, end: i + 1 }
      }
    } else if (char === ',' && depth === 1) {
      args.push(sql.slice(start, i))
      start = i + 1
    }
  }
  return null
}

const isAll = (state: VariableState | undefined) => {
  const value = state === undefined ? '' : Array.isArray(state.value) ? state.value.join(',') : state.value
  return value === '' || value === '$__all'
}

/** Step 1, from the last macro to the first as the plugin does it. */
export function applyConditionalAll(sql: string, variables: QueryContext['variables']): string {
  const macro = '$__conditionalAll('
  let index = sql.lastIndexOf(macro)
  while (index !== -1) {
    const call = callArguments(sql, index + macro.length - 1)
    if (!call || call.args.length !== 2) return sql
    const [condition, variable] = call.args as [string, string]
    const name = /(?<=\$\{)\w+(?=\})|(?<=\$)\w+/.exec(variable.trim())?.[0]
    const phrase = name !== undefined && isAll(variables[name]) ? '1=1' : condition
    sql = sql.slice(0, index) + phrase + sql.slice(call.end)
    index = sql.lastIndexOf(macro)
  }
  return sql
}

/** Grafana's variable syntax: `$name`, `[[name]]`, `${name}`, `${name.field}`, `${name:format}`. */
const variablePattern = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g

/** The variable names a query refers to, other than Grafana's own (`__from`, …) and the plugin's macros (`$__…`). */
export function referencedVariables(sql: string): string[] {
  const names = new Set<string>()
  for (const match of sql.matchAll(variablePattern)) {
    const name = match[1] ?? match[2] ?? match[4]
    if (name && !name.startsWith('__')) names.add(name)
  }
  return [...names]
}

/** Step 2. */
export function replaceVariables(sql: string, context: QueryContext): string {
  return sql.replace(variablePattern, (whole, plain?: string, bracket?: string, _bracketFormat?: string, braced?: string, _field?: string, format?: string) => {
    const name = plain ?? bracket ?? braced
    if (name === '__from' || name === '__to') {
      const time = name === '__from' ? context.from : context.to
      if (format === 'date:seconds') return String(Math.floor(time.getTime() / 1000))
      if (format === undefined) return String(time.getTime())
      throw new Error(`the emulation does not know the format ${format} of ${name}`)
    }
    const state = name === undefined ? undefined : context.variables[name]
    if (!state) return whole
    if (format !== undefined) throw new Error(`the emulation does not know the format ${format} of ${name}`)
    const value = isAll(state) ? (state.options ?? []) : state.value
    return Array.isArray(value) ? `'${value.join("','")}'` : value
  })
}

const seconds = (time: Date) => Math.floor(time.getTime() / 1000)

type Macro = (args: string[], context: QueryContext) => string

const oneArgument = (name: string, args: string[]): string => {
  if (args.length !== 1) throw new Error(`$__${name}: expected 1 argument, received ${args.length}`)
  return args[0] as string
}

const macros: Record<string, Macro> = {
  fromTime: (_, context) => `toDateTime(${seconds(context.from)})`,
  toTime: (_, context) => `toDateTime(${seconds(context.to)})`,
  fromTime_ms: (_, context) => `fromUnixTimestamp64Milli(${context.from.getTime()})`,
  toTime_ms: (_, context) => `fromUnixTimestamp64Milli(${context.to.getTime()})`,
  timeFilter: (args, context) => {
    const column = oneArgument('timeFilter', args)
    return `${column} >= toDateTime(${seconds(context.from)}) AND ${column} <= toDateTime(${seconds(context.to)})`
  },
  timeFilter_ms: (args, context) => {
    const column = oneArgument('timeFilter_ms', args)
    return `${column} >= fromUnixTimestamp64Milli(${context.from.getTime()}) AND ${column} <= fromUnixTimestamp64Milli(${context.to.getTime()})`
  },
  timeInterval: (args, context) =>
    `toStartOfInterval(toDateTime(${oneArgument('timeInterval', args)}), INTERVAL ${Math.max(Math.floor(context.intervalSeconds), 1)} second)`,
  interval_s: (_, context) => String(Math.max(Math.floor(context.intervalSeconds), 1)),
}

/** Step 3. A macro the plugin does not have is an error there, so it is one here. */
export function expandMacros(sql: string, context: QueryContext): string {
  let out = ''
  let position = 0
  const pattern = /\$__(\w+)/g
  for (let match = pattern.exec(sql); match; match = pattern.exec(sql)) {
    const name = match[1] as string
    const macro = macros[name]
    if (!macro) throw new Error(`the plugin has no macro $__${name}`)
    let end = match.index + match[0].length
    let args: string[] = []
    if (sql[end] === '(') {
      const call = callArguments(sql, end)
      if (!call) throw new Error(`$__${name}: unbalanced parentheses`)
      args = call.args.map((arg) => arg.trim())
      end = call.end
    }
    out += sql.slice(position, match.index) + macro(args, context)
    position = end
    pattern.lastIndex = end
  }
  return out + sql.slice(position)
}

export function interpolate(sql: string, context: QueryContext): string {
  return expandMacros(replaceVariables(applyConditionalAll(sql, context.variables), context), context)
}

/** Grafana's choice of $__interval: about one point per pixel of a 1000 px panel, rounded, never under the panel's minimum. */
export function grafanaInterval(from: Date, to: Date, minimumSeconds: number): number {
  const raw = (to.getTime() - from.getTime()) / 1000 / 1000
  const steps = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
  const rounded = steps.find((step) => step >= raw) ?? 86400
  return Math.max(rounded, minimumSeconds)
}

/** The parts of a dashboard variable that decide its value. */
export interface DashboardVariable {
  name: string
  type: string
  multi: boolean
  query: string | { rawSql: string }
  current: { value: string | string[] }
  options?: Array<{ value: string }>
}

/**
 * The variables as Grafana resolves them on load: in order, each query
 * variable from its own query (expanded with the variables before it), a
 * multi-value one at All unless `chosen` picks values, a single-value one at
 * its first row; custom variables at their saved value.
 */
export async function resolveVariables(
  list: readonly DashboardVariable[],
  range: { from: Date; to: Date },
  runQuery: (sql: string, variable: DashboardVariable) => Promise<unknown[][]>,
  chosen: Record<string, string[]> = {},
): Promise<QueryContext['variables']> {
  const variables: Record<string, VariableState> = {}
  for (const variable of list) {
    if (variable.type === 'custom') {
      variables[variable.name] = { value: variable.current.value, options: (variable.options ?? []).map((option) => option.value) }
      continue
    }
    const sql = typeof variable.query === 'string' ? variable.query : variable.query.rawSql
    const rows = await runQuery(interpolate(sql, { ...range, intervalSeconds: 60, variables }), variable)
    const values = rows.map((row) => String(row[0]))
    variables[variable.name] = variable.multi ? { value: chosen[variable.name] ?? ['$__all'], options: values } : { value: values[0] ?? '' }
  }
  return variables
}

const intervalUnits: Record<string, number> = { s: 1, m: 60, h: 3600 }

/** A panel's query as ClickHouse receives it, with $__interval never under the panel's minimum interval (`1m`). */
export function panelSql(panel: { interval?: string; targets: ReadonlyArray<{ rawSql: string }> }, range: { from: Date; to: Date }, variables: QueryContext['variables']): string {
  const minimum = /^(\d+)([smh])$/.exec(panel.interval ?? '')
  const minimumSeconds = minimum ? Number(minimum[1]) * (intervalUnits[minimum[2] as string] as number) : 1
  return interpolate(panel.targets[0]?.rawSql ?? '', { ...range, intervalSeconds: grafanaInterval(range.from, range.to, minimumSeconds), variables })
}
