"""The training and validation loss as a PNG, shown in the Dagster UI."""

import base64
import io


def loss_curve_png(train_losses: list[float], val_losses: dict[int, float]) -> bytes:
    """A small line chart: train loss per step, val loss at each eval."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display backend

    figure = Figure(figsize=(6, 3.2), dpi=100)
    axes = figure.subplots()
    axes.plot(range(1, len(train_losses) + 1), train_losses, label="train")
    if val_losses:
        axes.plot(list(val_losses), list(val_losses.values()), marker="o", label="val")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.grid(alpha=0.3)
    axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown showing the PNG inline (Dagster renders data URIs in Markdown metadata)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
