import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Abi, Hex } from 'viem'
import { anvilRpc } from './anvilRpc.js'
import compiled from './contracts/demoContracts.compiled.json' with { type: 'json' }

export type DemoContractName = 'DemoToken' | 'DemoCollectible'
export type DemoContracts = Record<DemoContractName, { address: Hex; abi: Abi }> & {
  /** Whether they were deployed by this start (else found from an earlier one). */
  deployedNow: boolean
}

const NAMES: DemoContractName[] = ['DemoToken', 'DemoCollectible']

/** Waits for a transaction's receipt (anvil mines at once, or at its block time). */
export async function receiptOf(
  url: string,
  hash: Hex,
  signal: AbortSignal,
): Promise<{ status: Hex; contractAddress: Hex | null }> {
  for (;;) {
    const receipt = await anvilRpc<{ status: Hex; contractAddress: Hex | null } | null>(
      url,
      'eth_getTransactionReceipt',
      [hash],
    )
    if (receipt) return receipt
    signal.throwIfAborted()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * The demo's ERC-20 and ERC-721 (DemoContracts.sol, compiled with OpenZeppelin; the bytecode is
 * committed beside its source), deployed from `owner` — or the ones an earlier start deployed,
 * when the chain still has their code (anvil's state is kept in the data directory).
 */
export async function deployDemoContracts(options: {
  url: string
  owner: Hex
  dataDir: string
  signal: AbortSignal
}): Promise<DemoContracts> {
  const file = join(options.dataDir, 'demo-contracts.json')
  const contracts = compiled.contracts as Record<DemoContractName, { abi: unknown[]; bytecode: Hex }>
  if (existsSync(file)) {
    const known = JSON.parse(readFileSync(file, 'utf8')) as Record<DemoContractName, Hex>
    const codes = await Promise.all(
      NAMES.map((name) => anvilRpc<Hex>(options.url, 'eth_getCode', [known[name], 'latest'])),
    )
    if (codes.every((code) => code && code !== '0x'))
      return {
        DemoToken: { address: known.DemoToken, abi: contracts.DemoToken.abi as Abi },
        DemoCollectible: { address: known.DemoCollectible, abi: contracts.DemoCollectible.abi as Abi },
        deployedNow: false,
      }
  }
  const deployed = {} as Record<DemoContractName, Hex>
  for (const name of NAMES) {
    const hash = await anvilRpc<Hex>(options.url, 'eth_sendTransaction', [
      { from: options.owner, data: contracts[name].bytecode, gas: '0x4c4b40' },
    ])
    const receipt = await receiptOf(options.url, hash, options.signal)
    if (receipt.status !== '0x1' || !receipt.contractAddress) throw new Error(`deploying ${name} failed`)
    deployed[name] = receipt.contractAddress
  }
  writeFileSync(file, `${JSON.stringify(deployed, null, 2)}\n`)
  return {
    DemoToken: { address: deployed.DemoToken, abi: contracts.DemoToken.abi as Abi },
    DemoCollectible: { address: deployed.DemoCollectible, abi: contracts.DemoCollectible.abi as Abi },
    deployedNow: true,
  }
}
