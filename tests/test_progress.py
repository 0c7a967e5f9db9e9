"""Progress bars (rewardscope.progress)."""


def test_progress_bars_are_text_without_ipywidgets(monkeypatch):
    from tqdm import auto, std

    from rewardscope.progress import progress_bar

    monkeypatch.setattr("rewardscope.progress.find_spec", lambda name: None)
    bar = progress_bar(total=2, disable=True)
    assert type(bar) is std.tqdm  # not tqdm.auto's choice, which warns in a notebook without ipywidgets
    bar.close()
    monkeypatch.setattr("rewardscope.progress.find_spec", lambda name: object())
    bar = progress_bar(total=2, disable=True)
    assert type(bar) is auto.tqdm
    bar.close()
