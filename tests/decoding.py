"""Reading QR codes back in tests with a real decoder (zxing-cpp), as a phone would."""

from __future__ import annotations

import png
import zxingcpp


def decode_png(data: bytes) -> list[str]:
    """Decode every QR code in a PNG: pypng reads the pixels, zxing-cpp finds the codes."""
    width, height, rows, info = png.Reader(bytes=data).asDirect()
    assert info["greyscale"] and not info["alpha"], "qr_png is documented as greyscale"
    scale = 255 // (2 ** info["bitdepth"] - 1)  # 1-bit pixels are 0/1; the decoder wants 0..255
    pixels = bytes(value * scale for row in rows for value in row)
    image = memoryview(pixels).cast("B", (height, width))
    return [barcode.text for barcode in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
