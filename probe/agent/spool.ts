/**
 * The agent's durable spool. Every record is on disk (written and fdatasync'd)
 * before anything tries to send it, and leaves only when the collector has
 * acknowledged it, so a crash, a reboot or a week-long collector outage loses
 * nothing that fits in the bound.
 *
 * Layout: append-only segment files `<seq>.ndjson`. The newest is the active
 * one, taking appends; sealing it makes it a batch to send. A restart seals
 * whatever was active, so its records are sent too; a line torn by a crash
 * mid-write is skipped when read. Resending a segment whose acknowledgement
 * was lost is harmless: record ids make the collector store it once.
 *
 * The bound: past `maxBytes`, the oldest sealed segments are deleted and
 * their records counted in `droppedTotal`, which survives restarts (state.json)
 * and is reported with every heartbeat.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises'
import path from 'node:path'

export interface Segment {
  seq: number
  file: string
  records: number
  bytes: number
  /** Found on disk at start: a process before this one may have sent it already. */
  recovered?: boolean
}

export interface SpoolStats {
  records: number
  bytes: number
  segments: number
}

interface SpoolState {
  droppedTotal: number
  rejectedTotal: number
}

export interface SpoolOptions {
  maxBytes: number
  /** A segment is sealed once it holds this many bytes, so batches stay small enough to send. */
  segmentBytes?: number
  /** …or this many records. */
  segmentRecords?: number
  /** Told when a full spool had to drop records. */
  onDrop?(records: number, droppedTotal: number): void
}

export class SpoolLockedError extends Error {
  readonly code = 'SPOOL_LOCKED'
}

const segmentName = /^(\d{16})\.ndjson$/

function countLines(buffer: Buffer): number {
  let lines = 0
  for (let at = buffer.indexOf(0x0a); at >= 0; at = buffer.indexOf(0x0a, at + 1)) lines++
  return lines
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** One agent per spool: two would send each other's segments and delete them under each other. */
function takeLock(dir: string): string {
  const lock = path.join(dir, 'spool.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return lock
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = Number(readFileSync(lock, 'utf8'))
      if (Number.isInteger(holder) && holder !== process.pid && processAlive(holder)) {
        throw new SpoolLockedError(`spool ${dir} is in use by process ${holder}`)
      }
      unlinkSync(lock) // left by a process that died
    }
  }
  throw new SpoolLockedError(`cannot lock spool ${dir}`)
}

export class Spool {
  private sealed: Segment[] = []
  private active!: Segment
  private activeHandle!: FileHandle
  private activeSince = Date.now()
  private readonly inFlight = new Set<number>()
  private state: SpoolState = { droppedTotal: 0, rejectedTotal: 0 }
  /** Serialises appends, seals and drops: they all move the active segment. */
  private lock: Promise<unknown> = Promise.resolve()

  private constructor(
    readonly dir: string,
    private readonly options: Required<Omit<SpoolOptions, 'onDrop'>> & Pick<SpoolOptions, 'onDrop'>,
    private readonly lockFile: string,
  ) {}

  static async open(dir: string, options: SpoolOptions): Promise<Spool> {
    await mkdir(dir, { recursive: true })
    const lockFile = takeLock(dir)
    // Several segments fit in the bound, so dropping one frees room without emptying the spool.
    const segmentBytes = options.segmentBytes ?? Math.max(1024, Math.min(1024 * 1024, Math.floor(options.maxBytes / 8)))
    const spool = new Spool(dir, { segmentBytes, segmentRecords: options.segmentRecords ?? 5000, ...options }, lockFile)
    await spool.load()
    return spool
  }

  private async load(): Promise<void> {
    try {
      const saved = JSON.parse(await readFile(path.join(this.dir, 'state.json'), 'utf8')) as Partial<SpoolState>
      this.state = { droppedTotal: Number(saved.droppedTotal) || 0, rejectedTotal: Number(saved.rejectedTotal) || 0 }
    } catch {
      // No state yet, or a torn write of it: counters start again rather than block the agent.
    }
    let lastSeq = 0
    for (const name of (await readdir(this.dir)).sort()) {
      const match = segmentName.exec(name)
      if (!match) continue
      const seq = Number(match[1])
      const file = path.join(this.dir, name)
      const content = await readFile(file)
      if (content.length === 0) {
        await rm(file, { force: true })
        continue
      }
      // Whatever was active when the last process stopped is sealed now.
      this.sealed.push({ seq, file, records: countLines(content), bytes: content.length, recovered: true })
      lastSeq = Math.max(lastSeq, seq)
    }
    await this.startSegment(lastSeq + 1)
  }

  private async startSegment(seq: number): Promise<void> {
    const file = path.join(this.dir, `${String(seq).padStart(16, '0')}.ndjson`)
    this.activeHandle = await open(file, 'a')
    this.active = { seq, file, records: 0, bytes: 0 }
    this.activeSince = Date.now()
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.lock.then(job, job)
    this.lock = run.catch(() => {})
    return run
  }

  /** Appends records and returns once they are on disk. */
  append(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return Promise.resolve()
    return this.serial(async () => {
      const data = Buffer.from(`${lines.join('\n')}\n`)
      await this.activeHandle.write(data)
      await this.activeHandle.datasync()
      this.active.records += lines.length
      this.active.bytes += data.length
      if (this.active.bytes >= this.options.segmentBytes || this.active.records >= this.options.segmentRecords) {
        await this.sealLocked()
      }
      await this.enforceBound()
    })
  }

  /** Seals the active segment if it holds anything, making it sendable. */
  seal(): Promise<void> {
    return this.serial(() => this.sealLocked())
  }

  private async sealLocked(): Promise<void> {
    if (this.active.records === 0) return
    await this.activeHandle.close()
    this.sealed.push(this.active)
    await this.startSegment(this.active.seq + 1)
  }

  private async enforceBound(): Promise<void> {
    let dropped = 0
    while (this.stats().bytes > this.options.maxBytes) {
      const oldest = this.sealed.find((segment) => !this.inFlight.has(segment.seq))
      if (!oldest) break
      await rm(oldest.file, { force: true })
      this.sealed = this.sealed.filter((segment) => segment !== oldest)
      dropped += oldest.records
    }
    if (dropped > 0) {
      this.state.droppedTotal += dropped
      await this.saveState()
      this.options.onDrop?.(dropped, this.state.droppedTotal)
    }
  }

  private async saveState(): Promise<void> {
    const file = path.join(this.dir, 'state.json')
    await writeFile(`${file}.tmp`, JSON.stringify(this.state))
    await rename(`${file}.tmp`, file)
  }

  /** How long the active segment has been collecting records. */
  activeAgeMs(): number {
    return this.active.records > 0 ? Date.now() - this.activeSince : 0
  }

  /** The oldest sealed segment not already being sent, claimed for sending. */
  claimNext(): Segment | null {
    const next = this.sealed.find((segment) => !this.inFlight.has(segment.seq))
    if (!next) return null
    this.inFlight.add(next.seq)
    return next
  }

  release(segment: Segment): void {
    this.inFlight.delete(segment.seq)
  }

  /** The segment's lines; a line torn by a crash is left out. */
  async read(segment: Segment): Promise<string[]> {
    const text = await readFile(segment.file, 'utf8')
    // The last piece is '' after a final newline, or a torn line without one: either way, not a record.
    return text
      .split('\n')
      .slice(0, -1)
      .filter((line) => line.length > 0)
  }

  /** The collector acknowledged the segment: it leaves the spool. */
  async acknowledge(segment: Segment, rejected = 0): Promise<void> {
    await this.serial(async () => {
      await rm(segment.file, { force: true })
      this.sealed = this.sealed.filter((candidate) => candidate.seq !== segment.seq)
      this.inFlight.delete(segment.seq)
      if (rejected > 0) {
        this.state.rejectedTotal += rejected
        await this.saveState()
      }
    })
  }

  stats(): SpoolStats {
    const sealed = this.sealed.reduce((sum, segment) => ({ records: sum.records + segment.records, bytes: sum.bytes + segment.bytes }), {
      records: 0,
      bytes: 0,
    })
    return {
      records: sealed.records + this.active.records,
      bytes: sealed.bytes + this.active.bytes,
      segments: this.sealed.length + (this.active.records > 0 ? 1 : 0),
    }
  }

  get droppedTotal(): number {
    return this.state.droppedTotal
  }

  get rejectedTotal(): number {
    return this.state.rejectedTotal
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      await this.activeHandle.close()
      if (this.active.records === 0) await rm(this.active.file, { force: true })
    })
    try {
      unlinkSync(this.lockFile)
    } catch {
      // Already gone: nothing to release.
    }
  }
}
