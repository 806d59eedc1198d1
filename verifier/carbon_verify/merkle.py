"""RFC 9162 (Certificate Transparency v2) section 2.1: the Merkle Tree Hash over SHA-256 and
the verification of an inclusion proof (section 2.1.3.2)."""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

EMPTY_TREE_HASH = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_hash(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    size = end - start
    if size == 1:
        return leaf_hashes[start]
    split = start + _largest_power_of_two_below(size)
    return node_hash(_subtree_hash(leaf_hashes, start, split),
                     _subtree_hash(leaf_hashes, split, end))


def tree_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) given the leaf hashes: the first k leaves (k the largest power of two below
    n) on the left, the rest on the right; the empty tree is SHA-256 of nothing."""
    if not leaf_hashes:
        return EMPTY_TREE_HASH
    return _subtree_hash(leaf_hashes, 0, len(leaf_hashes))


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == 32


def root_from_inclusion(leaf_index: int, tree_size: int, leaf: bytes,
                        audit_path: Sequence[bytes]) -> bytes | None:
    """The root that the inclusion proof of `leaf` (a leaf hash) at `leaf_index` in a tree of
    `tree_size` leads to, by RFC 9162 section 2.1.3.2; None when the proof cannot be one."""
    if type(leaf_index) is not int or type(tree_size) is not int or not 0 <= leaf_index < tree_size:
        return None
    if not _is_hash(leaf) or not all(_is_hash(p) for p in audit_path):
        return None
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in audit_path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def verify_inclusion(leaf_index: int, tree_size: int, leaf: bytes, audit_path: Sequence[bytes],
                     root: bytes) -> bool:
    """Whether the audit path proves `leaf` (a leaf hash) at `leaf_index` in the tree `root`."""
    computed = root_from_inclusion(leaf_index, tree_size, leaf, audit_path)
    return computed is not None and _is_hash(root) and hmac.compare_digest(computed, root)
