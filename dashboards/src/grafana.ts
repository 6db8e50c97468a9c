/**
 * Small builders for Grafana dashboard JSON, so the four dashboards share one
 * datasource reference, one set of variables and one way of writing a query.
 * Every query is raw SQL for grafana-clickhouse-datasource; the plugin expands
 * `$__conditionalAll` in the browser, Grafana the `${var}`s, and the plugin's
 * backend the time macros (`$__timeFilter`, `$__interval_s`, …).
 */

/** The uid the provisioned datasource is given; every panel and variable names it. */
export const datasourceUid = 'catchment-clickhouse'
export const datasource = { type: 'grafana-clickhouse-datasource', uid: datasourceUid } as const

export type QueryFormat = 'table' | 'timeseries'

/** The plugin's `format` field follows sqlutil's FormatQueryOption: 0 time series, 1 table. */
const formatCodes: Record<QueryFormat, number> = { timeseries: 0, table: 1 }

export interface SqlTarget {
  refId: string
  datasource: typeof datasource
  editorType: 'sql'
  queryType: QueryFormat
  format: number
  rawSql: string
}

export function sqlTarget(rawSql: string, format: QueryFormat, refId = 'A'): SqlTarget {
  return { refId, datasource, editorType: 'sql', queryType: format, format: formatCodes[format], rawSql: rawSql.trim() }
}

export interface GridPos {
  x: number
  y: number
  w: number
  h: number
}

export interface Panel {
  id: number
  type: string
  title: string
  description: string
  gridPos: GridPos
  datasource: typeof datasource
  targets: SqlTarget[]
  /** The smallest $__interval Grafana may pick: the minute rollup has nothing finer. */
  interval?: string
  fieldConfig: { defaults: Record<string, unknown>; overrides: unknown[] }
  options: Record<string, unknown>
  transformations?: unknown[]
}

export interface PanelSpec {
  type: string
  title: string
  description: string
  gridPos: GridPos
  sql: string
  format: QueryFormat
  fieldConfig?: Panel['fieldConfig']
  options?: Record<string, unknown>
  transformations?: unknown[]
  /**
   * A table's columns as the query returns them, with the header each gets.
   * Rendered as an "organize" transformation; the dashboard tests check that
   * the query returns exactly these.
   */
  columns?: Record<string, string>
}

export function panel(id: number, spec: PanelSpec): Panel {
  const transformations = [...(spec.transformations ?? [])]
  if (spec.columns) {
    const names = Object.keys(spec.columns)
    transformations.push({
      id: 'organize',
      options: {
        indexByName: Object.fromEntries(names.map((name, index) => [name, index])),
        renameByName: spec.columns,
        excludeByName: {},
      },
    })
  }
  return {
    id,
    type: spec.type,
    title: spec.title,
    description: spec.description,
    gridPos: spec.gridPos,
    datasource,
    targets: [sqlTarget(spec.sql, spec.format)],
    ...(spec.format === 'timeseries' ? { interval: '1m' } : {}),
    fieldConfig: spec.fieldConfig ?? { defaults: {}, overrides: [] },
    options: spec.options ?? {},
    ...(transformations.length > 0 ? { transformations } : {}),
  }
}

export interface Variable {
  name: string
  label?: string
  type: 'query' | 'custom'
  datasource?: typeof datasource
  query: string | { rawSql: string; editorType: 'sql'; format: number; refId: string }
  definition?: string
  multi: boolean
  includeAll: boolean
  /** 0 never, 1 on dashboard load, 2 on time range change. */
  refresh?: 0 | 1 | 2
  /** 0 shown, 2 hidden. */
  hide: 0 | 2
  sort?: number
  current: { text: string | string[]; value: string | string[] }
  options: Array<{ text: string; value: string; selected: boolean }>
}

export interface QueryVariableSpec {
  name: string
  label?: string
  sql: string
  multi?: boolean
  refresh?: 1 | 2
  hidden?: boolean
}

export function queryVariable(spec: QueryVariableSpec): Variable {
  const multi = spec.multi ?? true
  const sql = spec.sql.trim()
  return {
    name: spec.name,
    ...(spec.label ? { label: spec.label } : {}),
    type: 'query',
    datasource,
    query: { rawSql: sql, editorType: 'sql', format: 1, refId: 'ClickHouseVariableQueryEditor-VariableQuery' },
    definition: sql,
    multi,
    includeAll: multi,
    refresh: spec.refresh ?? 1,
    hide: spec.hidden ? 2 : 0,
    sort: 0,
    current: multi ? { text: ['All'], value: ['$__all'] } : { text: '', value: '' },
    options: [],
  }
}

export function customVariable(name: string, label: string, values: string[], selected: string): Variable {
  return {
    name,
    label,
    type: 'custom',
    query: values.join(','),
    multi: false,
    includeAll: false,
    hide: 0,
    current: { text: selected, value: selected },
    options: values.map((value) => ({ text: value, value, selected: value === selected })),
  }
}

export interface DashboardSpec {
  uid: string
  title: string
  description: string
  /** Default time range, e.g. `now-6h`. */
  from: string
  variables: Variable[]
  panels: PanelSpec[]
}

export function dashboard(spec: DashboardSpec): Record<string, unknown> {
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ['catchment'],
    timezone: 'utc',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '1m',
    time: { from: spec.from, to: 'now' },
    links: [{ type: 'dashboards', tags: ['catchment'], asDropdown: false, includeVars: true, keepTime: true, title: 'catchment' }],
    annotations: { list: [] },
    templating: { list: spec.variables },
    panels: spec.panels.map((panelSpec, index) => panel(index + 1, panelSpec)),
  }
}
