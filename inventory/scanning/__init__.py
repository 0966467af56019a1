"""What a scanner reads: GS1 product barcodes (``gs1``), and any scanned code resolved to a shipment or a lot
(``resolve``)."""
