"""Layout checks for figures: text inside the figure, tick labels and legends not colliding."""

from __future__ import annotations


def renderer(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _tick_labels(axis):
    """The tick labels drawn: visible, non-empty, at a tick inside the view interval."""
    lo, hi = sorted(axis.get_view_interval())
    out = []
    for lab in axis.get_ticklabels(which="both"):
        v = lab.get_position()[0 if axis.axis_name == "x" else 1]
        if lab.get_visible() and lab.get_text() and lo - 1e-9 * abs(lo) <= v <= hi + 1e-9 * abs(hi):
            out.append(lab)
    return out


def _texts(fig):
    from matplotlib.text import Text

    ticks = {id(lab) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis) for lab in axis.get_ticklabels(which="both")}
    drawn = {id(lab) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis) for lab in _tick_labels(axis)}
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
            and (id(t) not in ticks or id(t) in drawn)]


def problems(fig) -> list[str]:
    """What is clipped or collides: text beyond the figure's edges, overlapping tick labels
    on one axis, a legend inside an axes that sticks out of it."""
    r = renderer(fig)
    box = fig.bbox
    out = []
    for t in _texts(fig):
        bb = t.get_window_extent(r)
        if bb.x0 < box.x0 - 1 or bb.x1 > box.x1 + 1 or bb.y0 < box.y0 - 1 or bb.y1 > box.y1 + 1:
            out.append(f"clipped: {t.get_text()!r}")
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = _tick_labels(axis)
            bbs = [lab.get_window_extent(r) for lab in labels]
            for i in range(len(bbs)):
                for j in range(i + 1, len(bbs)):
                    if bbs[i].overlaps(bbs[j]):
                        out.append(f"overlapping tick labels {labels[i].get_text()!r}, {labels[j].get_text()!r}")
        leg = ax.get_legend()
        if leg is not None and not leg.get_in_layout():
            lb, ab = leg.get_window_extent(r), ax.get_window_extent(r)
            if lb.x0 < ab.x0 - 1 or lb.x1 > ab.x1 + 1 or lb.y0 < ab.y0 - 1 or lb.y1 > ab.y1 + 1:
                out.append(f"legend sticks out of its axes {ax.get_title()!r}")
    return out
