"""ONNX import tests; onnx_op_cases is shared by test_onnx_ops."""
