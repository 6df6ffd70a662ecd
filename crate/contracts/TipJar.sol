// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title TipJar: tip a torrent's creator in the chain's native coin (BTT on BTTC) and leave a public record.
/// @notice `tip` forwards the whole value to `creator` in the same call and logs a `Tip` event indexed by creator and
/// info hash, so a creator's page lists the tips for one work with `eth_getLogs` (topics: Tip, creator, infoHash).
/// @dev Invariants:
///  - The contract keeps no state and holds nothing: every wei it receives leaves in the same call, or the call
///    reverts. There is no receive/fallback, so plain transfers to it revert. (A forced send, e.g. SELFDESTRUCT to
///    it, would sit here unrecoverable; nobody has a reason to do that, and nothing here reads its balance.)
///  - Reentrancy is harmless: a creator contract may call back into `tip` while receiving, but there is no storage to
///    corrupt and no balance to drain; a nested call can only forward the value it brings itself.
///  - Compiled for the `paris` EVM (no PUSH0 or other Shanghai+ opcodes): BTTC is a Bor (Polygon PoS) fork and we do
///    not rely on it having activated Shanghai. Settings and bytecode are pinned in TipJar.json next to this file.
contract TipJar {
    /// Longest message accepted, in bytes of UTF-8 (a tweet's 280). Bounds the log data a tipper can make every reader
    /// of a creator's tips download; the Rust client enforces the same bound before asking the wallet to sign.
    /// UTF-8 validity is not checked here: readers must treat `message` as untrusted text, never as HTML.
    uint256 public constant MAX_MESSAGE_BYTES = 280;

    /// One tip. `from` is the account that paid (msg.sender), `amount` is in wei.
    event Tip(address indexed creator, bytes20 indexed infoHash, address indexed from, uint256 amount, string message);

    /// The call carried no value.
    error ZeroAmount();
    /// `creator` is the zero address (where money would burn).
    error ZeroCreator();
    /// `message` is longer than MAX_MESSAGE_BYTES.
    error MessageTooLong(uint256 length, uint256 max);
    /// `creator` did not accept the value (a contract without a payable receive/fallback, or one that reverts).
    error TransferFailed(address creator);

    /// Forwards msg.value to `creator` and emits `Tip`. Reverts, returning the value to the tipper, on a zero value,
    /// a zero creator, a message over MAX_MESSAGE_BYTES, or when the creator rejects the transfer.
    function tip(address creator, bytes20 infoHash, string calldata message) external payable {
        if (msg.value == 0) revert ZeroAmount();
        if (creator == address(0)) revert ZeroCreator();
        if (bytes(message).length > MAX_MESSAGE_BYTES) revert MessageTooLong(bytes(message).length, MAX_MESSAGE_BYTES);

        // Log first (checks-effects-interactions): if the transfer fails the whole call reverts and the log with it;
        // with nested tips from a re-entering creator, logs appear in call order.
        emit Tip(creator, infoHash, msg.sender, msg.value, message);

        // All remaining gas goes to the creator (a contract wallet may need more than transfer()'s 2300 stipend).
        // Return data is not copied (out size 0), so a creator cannot make the tipper pay for a huge returndata copy.
        bool ok;
        assembly ("memory-safe") {
            ok := call(gas(), creator, callvalue(), 0, 0, 0, 0)
        }
        if (!ok) revert TransferFailed(creator);
    }
}
