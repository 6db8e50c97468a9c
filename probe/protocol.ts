/**
 * What the agent and the collector agree on beyond the record itself (record.ts).
 * Kept apart from the record's schema so the agent's sender does not load it.
 */

/**
 * The header a batch of records is sent with: how many times the sender may
 * have sent these records, this time included. `1` promises none of them can
 * be stored yet, which spares the collector its stored-id lookup (a third of
 * an insert's time); absent or anything else, they are looked up, as a retry is.
 */
export const attemptHeader = 'x-catchment-attempt'
