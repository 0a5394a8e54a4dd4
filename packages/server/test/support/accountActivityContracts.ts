import { type Abi, encodeFunctionData, type Hex } from 'viem'
import type { TestAnvil } from './anvil.js'
import { deploy, waitForReceipt } from './chainActivity.js'
import compiled from './contracts/accountActivity.compiled.json' with { type: 'json' }

/**
 * The token-standard contracts of contracts/AccountActivity.sol, compiled with the solc version
 * and settings recorded in contracts/accountActivity.compiled.json.
 */
export type TestContractName = keyof typeof compiled.contracts

export type TestContract = { address: Hex; abi: Abi }

export async function deployTestContract(anvil: TestAnvil, name: TestContractName): Promise<TestContract> {
  const { abi, bytecode } = compiled.contracts[name]
  return { address: await deploy(anvil, bytecode), abi: abi as Abi }
}

/** Calls `functionName` of `contract` from `from` (with `value` wei) and waits for its block. */
export async function callContract(
  anvil: TestAnvil,
  contract: TestContract,
  from: Hex,
  functionName: string,
  args: unknown[],
  value = 0n,
): Promise<Hex> {
  const data = encodeFunctionData({ abi: contract.abi, functionName, args })
  const hash = await anvil.rpc<Hex>('eth_sendTransaction', [
    { from, to: contract.address, data, value: `0x${value.toString(16)}` },
  ])
  await waitForReceipt(anvil, hash)
  return hash
}

/** Sends `value` wei from `from` to `to` and waits for its block. */
export async function sendEther(anvil: TestAnvil, from: Hex, to: Hex, value: bigint): Promise<Hex> {
  const hash = await anvil.rpc<Hex>('eth_sendTransaction', [{ from, to, value: `0x${value.toString(16)}` }])
  await waitForReceipt(anvil, hash)
  return hash
}
