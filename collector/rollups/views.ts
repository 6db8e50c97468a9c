/**
 * Which of the rollups' materialized views a store has: a folding store has
 * dropped the ones whose work its folds do, and going back to views makes
 * them again.
 */
import type { Store } from '../store/client.ts'
import type { SchemaContext, ViewDefinition } from '../store/schema.ts'

export async function existingViews(store: Store, context: SchemaContext, views: readonly ViewDefinition[]): Promise<Set<string>> {
  const result = await store.client('registry').query({
    query: 'SELECT name FROM system.tables WHERE database = {database:String} AND has({names:Array(String)}, name)',
    query_params: { database: context.database, names: views.map((view) => view.name) },
    format: 'JSONEachRow',
  })
  return new Set((await result.json<{ name: string }>()).map(({ name }) => name))
}
