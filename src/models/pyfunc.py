"""Public home of the recommender's MLflow adapter: `from tierwise.models.pyfunc import
RecommenderPyfunc`. A module of its own so that `import tierwise.models` does not import
`mlflow.pyfunc`."""

from tierwise.models._recommender_pyfunc import (
    PYFUNC_OUTPUT_COLUMNS,
    SETTINGS_ARTIFACT_KEY,
    RecommenderPyfunc,
    allowed_values,
    answer_records,
    check_request,
    plain_rows,
    write_artifacts,
)

__all__ = ["PYFUNC_OUTPUT_COLUMNS", "SETTINGS_ARTIFACT_KEY", "RecommenderPyfunc", "allowed_values", "answer_records",
           "check_request",
           "plain_rows", "write_artifacts"]
