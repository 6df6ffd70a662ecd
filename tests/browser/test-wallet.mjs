// A test wallet injected into every page of a browser context: an EIP-6963 provider that
// behaves like a browser extension wallet on top of a real EVM node (anvil).
//
// - It announces itself on `eip6963:requestProvider` (and once at load), and also sits at
//   `window.ethereum` unless `injectWindowEthereum: false`.
// - `wallet_*` methods and the chain it is "on" are answered by the wallet itself (anvil
//   answers -32601 to them); everything else goes to anvil through a Playwright binding, the
//   way an extension's background page talks to its RPC (so the page's CSP does not apply).
// - Like a real wallet it refuses `eth_sendTransaction` while on a chain other than the
//   transaction's `chainId`, and sends on the node only while "on" the node's chain.
// - Tests steer it through `window.testWallet` in the page: `reject` (methods that answer
//   4001 as a user clicking "Reject" would), `chainId` (the chain it is on, hex), `known`
//   (chains it can switch to without adding), `unknownChainForm` (how it says "unknown chain":
//   'metamask' = code 4902, 'mobile' = data.originalError.code 4902, 'coinbase' = -32603),
//   `account`, and `log` (every request, in order, as {method, params}).
//
// Usage: await installTestWallet(context, anvil, { account, chainId: '0x1' })

/** Installs the wallet in every page of `context`; `anvil.url` is the node's HTTP RPC. */
export async function installTestWallet(context, anvil, options = {}) {
  const settings = {
    account: options.account,
    chainId: options.chainId ?? '0xc7',
    nodeChainId: options.nodeChainId ?? '0xc7',
    known: options.known ?? ['0x1', '0xc7'],
    unknownChainForm: options.unknownChainForm ?? 'metamask',
    reject: options.reject ?? [],
    info: {
      uuid: options.uuid ?? '9f0c1a8e-1b7e-4b7a-9a35-3b2f0f7c1e01',
      name: options.name ?? 'Test Wallet',
      rdns: options.rdns ?? 'dev.seedcast.testwallet',
      icon: options.icon ?? 'data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22 width=%2296%22 height=%2296%22%3E%3Crect width=%2296%22 height=%2296%22 fill=%22%23f80%22/%3E%3C/svg%3E',
    },
    announce: options.announce ?? true,
    injectWindowEthereum: options.injectWindowEthereum ?? true,
  };
  // One binding per context: forwards a JSON-RPC call to anvil from Node.
  await context.exposeBinding('__testWalletRpc', async (_source, method, params) => {
    const response = await fetch(anvil.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    return response.json();
  });
  await context.addInitScript(pageWallet, settings);
}

/** Runs in the page (serialised by Playwright): no closures over Node state. */
function pageWallet(settings) {
  const state = {
    account: settings.account,
    chainId: settings.chainId,
    known: new Set(settings.known),
    unknownChainForm: settings.unknownChainForm,
    reject: new Set(settings.reject),
    log: [],
  };
  window.testWallet = state;
  const listeners = new Map();
  const emit = (event, value) => (listeners.get(event) ?? []).forEach((f) => { try { f(value); } catch {} });
  const fail = (code, message, data) => Object.assign(new Error(message), { code, ...(data ? { data } : {}) });

  async function request(args) {
    const { method, params = [] } = args ?? {};
    state.log.push({ method, params: JSON.parse(JSON.stringify(params)) });
    if (state.reject.has(method)) throw fail(4001, 'User rejected the request.');
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return state.account ? [state.account] : [];
      case 'eth_chainId':
        return state.chainId;
      case 'wallet_switchEthereumChain': {
        const id = params[0]?.chainId;
        if (!state.known.has(id)) {
          if (state.unknownChainForm === 'mobile') throw fail(-32603, 'Internal error', { originalError: { code: 4902, message: 'Unrecognized chain ID' } });
          if (state.unknownChainForm === 'coinbase') throw fail(-32603, `Unrecognized chain ID "${id}". Try adding the chain using wallet_addEthereumChain first.`);
          throw fail(4902, `Unrecognized chain ID "${id}".`);
        }
        if (state.chainId !== id) { state.chainId = id; emit('chainChanged', id); }
        return null;
      }
      case 'wallet_addEthereumChain': {
        const chain = params[0];
        if (!/^0x[1-9a-f][0-9a-f]*$/.test(chain?.chainId ?? '')) throw fail(-32602, 'Invalid chainId');
        if (!(chain.nativeCurrency?.symbol?.length >= 2 && chain.nativeCurrency.symbol.length <= 6)) throw fail(-32602, 'Invalid symbol');
        if (!Array.isArray(chain.rpcUrls) || chain.rpcUrls.length === 0) throw fail(-32602, 'rpcUrls required');
        state.known.add(chain.chainId);
        return null;
      }
      case 'eth_sendTransaction': {
        const tx = params[0] ?? {};
        if (tx.chainId && tx.chainId !== state.chainId) throw fail(-32602, `Invalid chainId: wallet is on ${state.chainId}`);
        if (state.chainId !== settings.nodeChainId) throw fail(-32603, `this test wallet can only send on ${settings.nodeChainId}`);
        if (tx.from?.toLowerCase() !== state.account?.toLowerCase()) throw fail(4100, 'Unauthorized account');
        const { chainId: _ignored, ...forNode } = tx;
        return node('eth_sendTransaction', [forNode]);
      }
      default:
        return node(method, params);
    }
  }

  async function node(method, params) {
    const reply = await window.__testWalletRpc(method, params);
    if (reply.error) throw fail(reply.error.code, reply.error.message, reply.error.data);
    return reply.result;
  }

  const provider = Object.freeze({
    isTestWallet: true,
    request,
    on(event, fn) { listeners.set(event, [...(listeners.get(event) ?? []), fn]); return provider; },
    removeListener(event, fn) { listeners.set(event, (listeners.get(event) ?? []).filter((f) => f !== fn)); return provider; },
  });
  const announce = () => window.dispatchEvent(new CustomEvent('eip6963:announceProvider', {
    detail: Object.freeze({ info: Object.freeze({ ...settings.info }), provider }),
  }));
  if (settings.announce) {
    window.addEventListener('eip6963:requestProvider', announce);
    announce();
  }
  if (settings.injectWindowEthereum) window.ethereum = provider;
}
