"""Public home of the fast exact TreeSHAP: `from models.treeshap import tree_shap`."""

from tierwise.models._treeshap import tree_shap

__all__ = ["tree_shap"]
