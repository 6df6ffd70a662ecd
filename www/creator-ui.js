// A torrent's creator line and its tip dialog, shared by the app (app.js) and <seedcast-player>.
//
// Everything shown here comes from a torrent anyone could have made: names and addresses are
// set as text (never HTML), icons only as data:image URIs in <img>, links only to the site's
// own explorer (the chain is the operator's choice, see chain.js). A record that does not
// verify never gets a Tip button: a tip must never go to an unverified recipient.

/** Most bytes of a tip message (the TipJar event carries it; the API refuses more). */
export const MAX_MESSAGE_BYTES = 280;
/** Most bytes of a creator's display name (the creator record's bound, see crate/src/creator). */
export const MAX_NAME_BYTES = 64;
/** Largest wallet icon shown: EIP-6963 icons are small data URIs; a huge one is not an icon. */
const MAX_ICON_CHARS = 128 * 1024;
/** Preset tip amounts in BTT (decimal strings, handed to tip() as they are). */
const PRESETS = ['1', '10', '100'];
const WEI_PER_BTT = 10n ** 18n;

const utf8 = new TextEncoder();
export const byteLength = (text) => utf8.encode(text).length;

/** `0x1234…abcd` for an address (the full one goes in a title). */
export function shortAddress(address) {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

/** A page of the chain's explorer, or null when the explorer is not an http(s) URL. */
function explorerURL(chain, kind, id) {
  const base = String(chain?.explorer ?? '').replace(/\/+$/, '');
  try {
    const url = new URL(`${base}/${kind}/${id}`);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children); // strings become text nodes
  return node;
}

/** A link to the chain explorer's page (opens apart, no referrer), or plain text without one. */
export function explorerLink(chain, kind, id, text) {
  const href = explorerURL(chain, kind, id);
  if (!href) return el('span', {}, text);
  return el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, text);
}

/** Wei (a decimal string) as BTT, without floats: "1500000000000000000" -> "1.5". */
export function formatBTT(wei) {
  const value = BigInt(wei);
  const whole = value / WEI_PER_BTT;
  const fraction = (value % WEI_PER_BTT).toString().padStart(18, '0').replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : `${whole}`;
}

/** One line for an error from tip() or seed() (its `.code`), in words for the viewer. */
export function errorText(error, chain) {
  const network = chain?.name ?? 'BitTorrent Chain';
  switch (error?.code) {
    case 'no-wallet': return 'No browser wallet found — install one that supports BitTorrent Chain.';
    case 'rejected': return 'Declined in your wallet: nothing was sent or signed.';
    case 'wrong-chain': return `Your wallet is not on ${network} and did not switch to it: nothing was sent.`;
    case 'insufficient-funds': return 'Not enough BTT in this wallet for the amount and the network fee.';
    case 'unverified-creator': return 'Creator record does not verify — tips are disabled.';
    case 'invalid-amount': return `That amount does not work: ${error.message}`;
    default: return `It did not work: ${error?.message ?? error}`;
  }
}

/** What the viewer waits for at each stage of tip() and seed(). */
function stageText(stage, chain) {
  switch (stage) {
    case 'connecting': return 'Connecting to your wallet…';
    case 'switching-chain': return `Asking your wallet to switch to ${chain?.name ?? 'the network'}…`;
    case 'checking-balance': return 'Checking your balance…';
    case 'confirm-in-wallet': return 'Confirm in your wallet…';
    case 'confirming': return 'Waiting for confirmation…';
    default: return 'Working…';
  }
}

/** A wallet's icon as an <img>, only when it is a data:image URI (never a remote URL: it would
 *  tell a third party who is looking), or nothing. */
function walletIcon(icon) {
  if (typeof icon !== 'string' || icon.length > MAX_ICON_CHARS || !/^data:image\/[a-z0-9.+-]+[;,]/i.test(icon)) return '';
  return el('img', { src: icon, alt: '', width: 20, height: 20, class: 'wallet-icon' });
}

/**
 * Fills `container` with a wallet picker (radios: icon + name) when there are several wallets,
 * or one line naming the only one. Returns a function giving the chosen wallet's uuid, or
 * undefined (let the API choose) when there are none.
 */
export async function walletPicker(container, client, group) {
  let wallets = [];
  try {
    wallets = await client.wallets();
  } catch (e) {
    console.warn('seedcast: could not list wallets:', e);
  }
  container.replaceChildren();
  if (wallets.length === 0) return () => undefined;
  if (wallets.length === 1) {
    container.append(el('p', { class: 'wallet-one' }, 'Wallet: ', walletIcon(wallets[0].icon), wallets[0].name));
    return () => wallets[0].uuid;
  }
  const fieldset = el('fieldset', { class: 'wallets' }, el('legend', {}, 'Wallet'));
  wallets.forEach((w, i) => {
    const radio = el('input', { type: 'radio', name: group, value: w.uuid, checked: i === 0 });
    fieldset.append(el('label', {}, radio, walletIcon(w.icon), w.name));
  });
  container.append(fieldset);
  return () => fieldset.querySelector('input:checked')?.value;
}

let dialogs = 0;

/**
 * Shows `torrent.creator` in `container` (replacing what was there): verified -> name, short
 * address linking to the explorer, the chain's name and a Tip button; unverified -> a warning
 * and no button; no record -> nothing. Call again when the metadata arrives.
 */
export function showCreator(container, torrent, client) {
  const creator = torrent.creator;
  container.classList.add('seedcast-creator');
  if (!creator) {
    container.replaceChildren();
    container.hidden = true;
    return;
  }
  container.hidden = false;
  if (!creator.verified) {
    container.replaceChildren(el('p', { class: 'creator-warning', role: 'note' },
      '⚠ Creator record does not verify — tips are disabled.',
      creator.reason ? ` (${creator.reason})` : ''));
    return;
  }
  // Read only when shown: the chain comes out of wasm as JSON, work that sat between a cold
  // page's metadata and its first frame even for a torrent without a creator (CPU profile).
  const chain = client.chain;
  const address = explorerLink(chain, 'address', creator.address, shortAddress(creator.address));
  address.title = creator.address;
  address.classList.add('creator-address');
  const tip = el('button', { type: 'button', class: 'tip-button' }, 'Tip');
  tip.setAttribute('aria-haspopup', 'dialog');
  const line = el('p', { class: 'creator-line' },
    'By ', el('bdi', { class: 'creator-name' }, creator.name), ' ', address,
    el('span', { class: 'creator-chain' }, ` · tips in BTT on ${chain.name}`), ' ', tip);
  container.replaceChildren(line);
  let dialog;
  tip.addEventListener('click', () => {
    dialog ??= tipDialog(container, torrent, client, creator, tip);
    dialog.open();
  });
}

/** Dialogs opened with `openTipDialog`, by the button that opens them (one each). */
const openers = new WeakMap();

/**
 * Opens the tip dialog for `torrent`'s creator from `opener` (a button in `container`), for
 * pages that place their own Tip buttons (the creator page). The caller has checked that
 * `torrent.creator` verifies (and names whom the page says it tips), or that the torrent has
 * no record and `channel` (a verified `client.channel()` listing it) is whom it tips. `onSent(result)` runs after a tip went through.
 */
export function openTipDialog(container, torrent, client, opener, { onSent, channel } = {}) {
  // A torrent without a record is tipped to the verified channel listing it (wasm checks
  // that this client verified such a channel; the page only supplies the name to show).
  const creator = torrent.creator ?? (channel?.verified ? { address: channel.address, name: channel.name, verified: true } : null);
  if (!creator?.verified) throw new Error('this torrent has no verified creator to tip');
  let dialog = openers.get(opener);
  if (!dialog) {
    dialog = tipDialog(container, torrent, client, creator, opener, onSent);
    openers.set(opener, dialog);
  }
  return dialog.open();
}

/** The tip dialog: a modal <dialog> (focus moves in, Esc closes, focus returns to `opener`). */
function tipDialog(container, torrent, client, creator, opener, onSent) {
  const chain = client.chain;
  const id = `seedcast-tip-${++dialogs}`;
  const heading = el('h2', { id: `${id}-title` }, 'Tip ', el('bdi', {}, creator.name));
  const where = el('p', { class: 'tip-where' },
    `In BTT on ${chain.name} (chain ${chain.id}), from your wallet to `,
    Object.assign(explorerLink(chain, 'address', creator.address, creator.address), { className: 'creator-address' }),
    chain.tipJar ? ' through the site\'s tip jar contract.' : '.');

  const presets = el('fieldset', { class: 'tip-presets' }, el('legend', {}, 'Amount (BTT)'));
  for (const amount of PRESETS) {
    presets.append(el('label', {}, el('input', { type: 'radio', name: `${id}-amount`, value: amount, checked: amount === PRESETS[0] }), ` ${amount} BTT`));
  }
  // Text, not type=number: the amount goes to tip() as the string typed (parsed there as an
  // integer number of wei; a float would round it).
  const custom = el('input', { type: 'text', inputMode: 'decimal', autocomplete: 'off', spellcheck: false, class: 'tip-custom', id: `${id}-custom`, placeholder: 'e.g. 2.5' });
  presets.append(el('label', { htmlFor: `${id}-custom` }, 'Other amount: '), custom);
  custom.addEventListener('input', () => {
    if (custom.value.trim()) presets.querySelectorAll('input[type=radio]').forEach((r) => { r.checked = false; });
  });
  presets.addEventListener('change', (e) => { if (e.target.type === 'radio') custom.value = ''; });

  const message = el('textarea', { id: `${id}-message`, maxLength: MAX_MESSAGE_BYTES, rows: 2, class: 'tip-message' });
  const count = el('span', { class: 'tip-count', 'aria-live': 'polite' });
  const countBytes = () => {
    const n = byteLength(message.value);
    count.textContent = `${n} / ${MAX_MESSAGE_BYTES} bytes`;
    count.classList.toggle('over', n > MAX_MESSAGE_BYTES);
    return n;
  };
  message.addEventListener('input', countBytes);
  countBytes();
  const messageRow = el('p', {}, el('label', { htmlFor: `${id}-message` }, 'Message (optional, public on the chain)'), message, count);

  const walletSlot = el('div', { class: 'tip-wallets' });
  let chosenWallet = () => undefined;
  const status = el('p', { class: 'tip-status', role: 'status' });
  const send = el('button', { type: 'submit', class: 'tip-send' }, 'Send tip');
  const close = el('button', { type: 'button', class: 'tip-close' }, 'Close');
  const form = el('form', { method: 'dialog' }, heading, where, presets, messageRow, walletSlot,
    el('p', { class: 'tip-actions' }, send, ' ', close), status);
  const dialog = el('dialog', { class: 'tip-dialog' }, form);
  dialog.setAttribute('aria-labelledby', heading.id);
  container.append(dialog);

  let pending = false;
  const setBusy = (busy) => {
    pending = busy;
    for (const control of form.querySelectorAll('input, textarea, .tip-send')) control.disabled = busy;
  };
  close.addEventListener('click', () => dialog.close());
  // Focus back where the viewer was (also after Esc, which closes a modal dialog).
  dialog.addEventListener('close', () => opener.focus());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (pending) return;
    const amount = custom.value.trim() || presets.querySelector('input[type=radio]:checked')?.value || '';
    status.className = 'tip-status';
    if (!amount) { status.textContent = 'Choose or type an amount.'; custom.focus(); return; }
    if (countBytes() > MAX_MESSAGE_BYTES) { status.textContent = `The message is longer than ${MAX_MESSAGE_BYTES} bytes.`; message.focus(); return; }
    setBusy(true);
    status.textContent = 'Connecting to your wallet…';
    try {
      const result = await torrent.tip(amount, {
        wallet: chosenWallet(),
        message: message.value || undefined,
        onStage: (stage) => { status.textContent = stageText(stage, chain); },
      });
      status.classList.add('ok');
      status.replaceChildren(`Sent ${formatBTT(result.amountWei)} BTT to `, el('bdi', {}, creator.name), '. ',
        explorerLink(chain, 'tx', result.txHash, 'View the transaction'));
      onSent?.(result);
    } catch (error) {
      status.classList.add('bad');
      status.textContent = errorText(error, chain);
    } finally {
      setBusy(false);
    }
  });

  return {
    async open() {
      if (!pending && !status.classList.contains('ok')) status.textContent = '';
      dialog.showModal();
      // The first preset (or the custom amount, if one was typed) gets the focus.
      (custom.value ? custom : presets.querySelector('input[type=radio]:checked') ?? custom).focus();
      chosenWallet = await walletPicker(walletSlot, client, `${id}-wallet`);
    },
  };
}

/** Styles of the tip dialog, shared by the app (adopted by the document, see
 *  `adoptTipDialogStyles`) and the player (its shadow root). */
export const TIP_DIALOG_CSS = `
.tip-button:focus-visible, .tip-dialog :focus-visible { outline: 3px solid #4a9eff; outline-offset: 2px; }
.tip-dialog { max-width: min(28rem, 90vw); color: #1d1d1f; background: #fff; border: 0; border-radius: 8px; font: 14px/1.4 system-ui, sans-serif; }
.tip-dialog::backdrop { background: rgb(0 0 0 / 50%); }
.tip-dialog h2 { margin: 0 0 .5rem; font-size: 1.1rem; overflow-wrap: anywhere; }
.tip-dialog .creator-address { color: #0a55a0; overflow-wrap: anywhere; }
.tip-dialog fieldset { border: 1px solid #ccc; border-radius: 4px; }
.tip-dialog label { margin-right: .75rem; }
.tip-message { display: block; width: 100%; box-sizing: border-box; }
.tip-count { font-size: .8rem; color: #666; }
.tip-count.over, .tip-status.bad { color: #b00020; }
.tip-status.ok { color: #146c2e; }
.wallet-icon { vertical-align: middle; margin: 0 4px; }
fieldset.wallets label { display: block; }
`;

/** The player's creator line (on its dark bar) and the dialog, inside its shadow root; the
 *  app styles its line in app.css. */
export const CREATOR_CSS = `
.seedcast-creator[hidden] { display: none; }
.creator-line, .creator-warning { margin: 0; padding: 4px 8px; background: #111; }
.creator-warning { background: #5a3a00; color: #ffe2a8; }
.creator-name { font-weight: 600; }
.creator-address { font-family: ui-monospace, monospace; color: #8cc4ff; }
.creator-chain { color: #aaa; }
.tip-button { margin-left: 6px; font: inherit; padding: 2px 12px; border-radius: 4px; border: 1px solid #4a9eff; background: #0a66c2; color: #fff; cursor: pointer; }
${TIP_DIALOG_CSS}`;

/** Gives the document the dialog's styles (a constructed sheet: the CSP allows no inline
 *  styles). Once per document. */
export function adoptTipDialogStyles(doc = document) {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(TIP_DIALOG_CSS);
  doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
}
