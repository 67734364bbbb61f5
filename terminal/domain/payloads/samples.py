"""Valid sample payloads of every kind, one list per kind: fuzz seeds, benchmark input, demo data."""

from __future__ import annotations

from terminal.domain.payloads.lnurl import encode_lnurl
from terminal.domain.payloads.ndef import encode_uri_message

BOLT11 = (
    "lnbc2500u1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqf"
    "qqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpu9qrsgquk0rl77nj30yxdy8j9vdx85fkpmdla2087ne0xh8nhedh8w27kyke0"
    "lp53ut353s06fv3qfegext0eh0ymjpf39tuven09sam30g4vgpfna3rh"
)
TAP = "lnurlw://card.yourdomain.com?p=4E2E289D945A66BB13377A728884E867&c=E19CCB1FED8892CE"
WALLET_SAMPLE = (
    "CPT1:AEBHOMIJO5QWY3DFOQWTIMQGIJKEGLKMJYAACAQDAQCQMBYIBEFAWDANBYHQAAAAABUSJAIA6I56OHGY5SEOQAEMEPZXSNHOHXE7O3TPDS"
    "5TO54JXT7VOFMLNLHYRSIJKU32M3J5XXNTTECP7JI7N64B4HOKYOBUVS4YBFTJ7DXTAAI"
)

# kind -> valid examples
CORPUS: dict[str, list[str]] = {
    "bitcoin": [
        "bitcoin:1RustyRX2oai4EYYDpQGWvEL62BBGqN9T?amount=20.3&label=Luke-Jr&message=Donation%20for%20project%20xyz",
        "BITCOIN:BC1QUFGY354J3KMVUCH987XE4S40836X3H0LG8F5N2"
        "?BC=BC1P5SWKUGEZN97763TL0YTY6556856UUG0Q6JFLLJVEP9M4P7339X5QZYRH4G",
        "bitcoin:?lightning=" + BOLT11,
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
    ],
    "ethereum": [
        "ethereum:0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359?value=2.014e18",
        "ethereum:pay-0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48@1/transfer"
        "?address=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed&uint256=12.5e6",
    ],
    "solana_transfer": [
        "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=0.01&spl-token=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
        "&reference=82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny&label=Michael&memo=OrderId5678",
    ],
    "solana_transaction": ["solana:https%3A%2F%2Fexample.com%2Fsolana-pay%3Forder%3D12345"],
    "bolt11": [BOLT11, "lightning:" + BOLT11.upper()],
    "lnurl": [
        encode_lnurl(
            "https://service.com/api?q=3fc3645b439ce8e7f2553a69e5267081d96dcd340693afabe04be7b0ccd178df"
        ),
        "lnurlp://examplennnnnnnn.onion/path",
    ],
    "boltcard": [TAP],
    "wallet_token": [WALLET_SAMPLE],
    "ndef": ["ndef:" + encode_uri_message(TAP).hex()],
}

ALL = [text for texts in CORPUS.values() for text in texts]
