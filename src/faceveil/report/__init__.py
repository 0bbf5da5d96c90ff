"""Reporting: plots of ROC curves and score distributions, published LFW ROC curves for comparison."""
