"""Layer 0: what every layer of petsim needs; imports nothing from petsim above it (see DESIGN.md).

Modules
-------
atomic : the one atomic file writer (``atomic_path``, ``write_text_atomic``, ``write_bytes_atomic``)
tsv : the one writer and reader of BIDS-style TSV tables (``write_tsv``, ``read_tsv``, ``format_cell``)
toml : the one TOML loader with errors naming the file (``load_toml``, ``loads_toml``)
nifti : the one NIfTI writer (``save_nifti``)
isotopes : half-lives and positron fractions (``Isotope``, ``get_isotope``)
curves : shared curve shapes (``gamma_variate``)
linear_operator : the linear operator protocol (``LinearOperator``)
scenario_types : the typed, resolved ``Scenario``
"""
