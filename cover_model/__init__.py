"""cover_model: predict an album's genre from its cover art.

The package owns the work; the Streamlit pages and the CLI are thin views over
it. Data flows one way: images -> dataset -> preprocess -> features/nets -> runs.
Nothing here imports Streamlit, and importing the package does not import torch.
"""
__version__ = "0.1.0"
