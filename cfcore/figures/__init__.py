"""Figure builders any surface may use (dashboard, report, CLI): Plotly figures and the live SVG chart."""
