"""Token attributions (attribute), DeepLIFT rules (deeplift), and how faithful attributions are (faithfulness)."""
