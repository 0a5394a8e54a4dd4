import { createReadStream } from 'node:fs'

const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09
}

/**
 * Whether the file holds one whole JSON object or array — as opposed to the beginning of one, which
 * is what a writer that truncates and rewrites a file in place leaves when it dies mid-write. Scans
 * the brackets outside strings in one streaming pass, without parsing (state files reach tens of
 * megabytes); it does not validate the JSON inside.
 */
export async function isCompleteJsonFile(path: string): Promise<boolean> {
  let depth = 0
  let opened = false
  let closed = false
  let inString = false
  let escaped = false
  for await (const chunk of createReadStream(path)) {
    for (const byte of chunk as Buffer) {
      if (closed) {
        if (!isSpace(byte)) return false
      } else if (inString) {
        if (escaped) escaped = false
        else if (byte === BACKSLASH) escaped = true
        else if (byte === QUOTE) inString = false
      } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
        depth += 1
        opened = true
      } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
        depth -= 1
        if (depth < 0) return false
        if (depth === 0) closed = true
      } else if (!opened) {
        if (!isSpace(byte)) return false
      } else if (byte === QUOTE) {
        inString = true
      }
    }
  }
  return closed
}
