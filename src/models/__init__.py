"""Model-ready frames to predictions and reasons: training, calibration, TreeSHAP, policy."""

__all__: list[str] = []
