"""Networks shared by several systems (the U-Net of the attacks and restorers)."""
