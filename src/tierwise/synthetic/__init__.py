"""The built-in synthetic bank: raw tables with a known causal structure, and its oracle."""

from tierwise.synthetic._bank import (
    CHURN_DRIVERS,
    DEFAULT_DRIVERS,
    SyntheticBank,
    client_ids,
    generate_bank,
)
from tierwise.synthetic._config import (
    BankConfig,
    BaseRatesConfig,
    DataConfig,
    DirtyConfig,
    LabelsConfig,
    NetworkConfig,
    OracleConfig,
    PopulationConfig,
    ProductsConfig,
    ShiftConfig,
    WarehouseConfig,
    branch_codes,
)
from tierwise.synthetic._dirty import inject_defects
from tierwise.synthetic._network import Network, generate_network
from tierwise.synthetic._output import (
    bank_fingerprint,
    read_group_oracle,
    read_manifest,
    read_oracle,
    write_bank,
)
from tierwise.synthetic._summary import (
    asset_band,
    clients_by_segment_and_band,
    label_base_rates,
    oracle_auc,
)
from tierwise.synthetic._warehouse import (
    PROFILES,
    Profile,
    generate_profile,
    recorded_defaults,
    warehouse_bank,
    warehouse_branch,
    warehouse_extract,
)

__all__ = [
    "Network",
    "generate_network",
    "read_group_oracle",
    "NetworkConfig",
    "CHURN_DRIVERS",
    "DEFAULT_DRIVERS",
    "BankConfig",
    "BaseRatesConfig",
    "DataConfig",
    "DirtyConfig",
    "LabelsConfig",
    "OracleConfig",
    "PopulationConfig",
    "ProductsConfig",
    "ShiftConfig",
    "WarehouseConfig",
    "PROFILES",
    "Profile",
    "generate_profile",
    "recorded_defaults",
    "warehouse_bank",
    "warehouse_branch",
    "warehouse_extract",
    "SyntheticBank",
    "asset_band",
    "bank_fingerprint",
    "branch_codes",
    "client_ids",
    "clients_by_segment_and_band",
    "generate_bank",
    "inject_defects",
    "label_base_rates",
    "oracle_auc",
    "read_manifest",
    "read_oracle",
    "write_bank",
]
