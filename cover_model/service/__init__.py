"""Serving the dashboard and the hosted demo: the dashboard's decisions as plain functions
(``dashboard``), the ONNX predictor of the light image (``onnx_serving``), and the visitor
challenge's rounds and records (``challenge``)."""
