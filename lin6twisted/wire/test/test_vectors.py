"""
The hex test vectors of C{docs/protocol.md}, checked both ways.

The document is the source of the bytes; L{lin6twisted.wire.test.vectors}
holds the messages they stand for.
"""

from __future__ import annotations

import unittest

from lin6twisted.wire import (
    LS_TYPES,
    MAPPING_TYPES,
    Register,
    Report,
    decodeLSMessage,
    decodeMappingMessage,
    splitDatagram,
)
from lin6twisted.wire.test.docvectors import (
    DOC,
    parseDocument,
    parseHex,
    renderVector,
    rewriteDocument,
)
from lin6twisted.wire.test.vectors import DECODERS, ERRORS, VECTOR_KEY, VECTORS


def _document() -> tuple[dict[str, bytes], dict[str, tuple[str, str, bytes]]]:
    return parseDocument(DOC.read_text(encoding="utf-8"))


class DocumentVectorTests(unittest.TestCase):
    """
    Every vector in the document encodes and decodes as written.
    """

    def setUp(self) -> None:
        self.vectors, self.rejects = _document()

    def test_sameNames(self) -> None:
        """
        The document and the test table name the same vectors.
        """
        self.assertEqual(sorted(self.vectors), sorted(VECTORS))

    def test_everyTypeHasAVector(self) -> None:
        """
        Every message type of both protocols has at least one vector.
        """
        covered = {type(m) for m in VECTORS.values()}
        self.assertEqual(covered, set(LS_TYPES.values()) | set(MAPPING_TYPES.values()))

    def test_encode(self) -> None:
        """
        Each message encodes to the document's bytes.
        """
        for name, message in VECTORS.items():
            with self.subTest(vector=name):
                self.assertEqual(
                    message.encode().hex(),
                    self.vectors[name].hex(),
                )

    def test_decode(self) -> None:
        """
        The document's bytes decode to the message, through the message
        class, the protocol's dispatcher and the datagram splitter.
        """
        for name, message in VECTORS.items():
            data = self.vectors[name]
            with self.subTest(vector=name):
                self.assertEqual(type(message).decode(data), message)
                dispatch = decodeLSMessage if data[1] < 0x20 else decodeMappingMessage
                self.assertEqual(dispatch(data), message)
                self.assertEqual(splitDatagram(data), data)

    def test_signedVectorsVerify(self) -> None:
        """
        The signed vectors carry the HMAC of the documented key.
        """
        signed = [m for m in VECTORS.values() if isinstance(m, Register | Report)]
        self.assertEqual(len(signed), 3)
        for message in signed:
            self.assertTrue(message.verify(VECTOR_KEY))
            self.assertFalse(message.verify(VECTOR_KEY[::-1]))

    def test_rendering(self) -> None:
        """
        The renderer reproduces each vector's bytes (so regenerating the
        section changes nothing).
        """
        for name, message in VECTORS.items():
            block = renderVector(name, message).split("```text\n", 1)[1].split("```")[0]
            self.assertEqual(parseHex(block), self.vectors[name])

    def test_generatedSectionCurrent(self) -> None:
        """
        The generated vector section is what the generator writes now
        (descriptions included); if not, run
        C{python -m lin6twisted.wire.test.docvectors --write}.
        """
        text = DOC.read_text(encoding="utf-8")
        self.assertEqual(rewriteDocument(text), text)

    def test_rejects(self) -> None:
        """
        Each rejected input of the document raises the named error from the
        named decoder.
        """
        self.assertGreaterEqual(len(self.rejects), 10)
        for name, (decoder, error, data) in self.rejects.items():
            with self.subTest(reject=name), self.assertRaises(ERRORS[error]):
                DECODERS[decoder](data)


class ParseDocumentTests(unittest.TestCase):
    """
    The vector parser itself.
    """

    def test_comments(self) -> None:
        """
        Hex digits count, whitespace and C{#} comments do not.
        """
        self.assertEqual(parseHex("01 02 # a 0x03\n0a0b\n"), b"\x01\x02\x0a\x0b")

    def test_duplicate(self) -> None:
        """
        A name used twice is an error.
        """
        block = "<!-- vector: x -->\n```text\n00\n```\n"
        with self.assertRaises(ValueError):
            parseDocument(block + block)

    def test_rejectNeedsOptions(self) -> None:
        """
        A reject block must name its decoder and error.
        """
        with self.assertRaises(ValueError):
            parseDocument("<!-- reject: x decoder=ls -->\n```text\n00\n```\n")
