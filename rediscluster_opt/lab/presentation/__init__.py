"""How runs are shown: the notebooks' API (`notebook`), figures (`plots`), DataFrames
from records (`frame`), the notebook builder, the stage explorer and JupyterLab's
settings. None of it names a story."""
