"""BOHB's model (bbopt.backends.kde): the unit cube, the kernel densities, the proposals."""

from __future__ import annotations

import numpy as np
import pytest

import bbopt
from bbopt import hp
from bbopt.backends.kde import GoodBadDensities, ProductKernelDensity, UnitCube, fill_inactive
from bbopt.errors import OptionValueError
from bbopt.space import Space
from bbopt.testing.backends import conditional_space, every_node_space


@pytest.mark.parametrize("tree", [every_node_space(), conditional_space()], ids=["nodes", "cond"])
def test_points_survive_the_unit_cube(tree: object) -> None:
    space = Space(tree)
    cube = UnitCube(space)
    rng = np.random.default_rng(0)
    for _ in range(200):
        flat = space.sample_flat(rng)
        vector = cube.encode(flat)
        active = [label in flat for label in cube.labels]
        assert np.isnan(vector).tolist() == [not a for a in active]
        inside = vector[(cube.categories == 0) & ~np.isnan(vector)]
        assert ((inside >= 0) & (inside <= 1)).all()
        back = cube.decode(fill_inactive(vector[None], cube.categories, rng)[0])
        assert space.validate_flat(back) == back and set(back) == set(flat)
        for label, value in flat.items():
            assert back[label] == pytest.approx(value, rel=1e-9, abs=1e-9), label


def test_any_vector_of_the_cube_decodes_to_a_valid_point() -> None:
    space = Space(every_node_space())
    cube = UnitCube(space)
    rng = np.random.default_rng(1)
    for _ in range(200):
        vector = np.where(cube.categories > 0, rng.integers(0, 10, len(cube.labels)), 0.0)
        vector = vector + np.where(cube.categories == 0, rng.uniform(-0.2, 1.2, len(vector)), 0)
        flat = cube.decode(vector)
        assert space.validate_flat(flat) == flat


def test_a_density_integrates_to_one_and_samples_stay_in_the_cube() -> None:
    rng = np.random.default_rng(2)
    data = np.column_stack([rng.uniform(0, 0.3, 12), rng.integers(0, 3, 12)])
    categories = np.array([0, 3])
    kde = ProductKernelDensity(data, categories, min_bandwidth=1e-3)
    grid = np.linspace(0, 1, 4001)
    total = 0.0
    for option in range(3):
        points = np.column_stack([grid, np.full_like(grid, option)])
        total += np.trapezoid(np.exp(kde.log_pdf(points)), grid)
    assert total == pytest.approx(1.0, abs=1e-3)
    samples = kde.sample(rng, 2000, widen=1.0)
    assert samples[:, 0].min() >= 0 and samples[:, 0].max() <= 1
    assert set(np.unique(samples[:, 1])) <= {0.0, 1.0, 2.0}
    assert abs(samples[:, 0].mean() - data[:, 0].mean()) < 0.05  # drawn around the data


def test_a_univariate_density_is_the_product_of_its_one_dimensional_densities() -> None:
    # Two points on the diagonal: product kernels keep each point's coordinates together,
    # per-coordinate densities do not, so there a corner is as likely as a data point.
    data = np.array([[0.1, 0.1], [0.9, 0.9]])
    categories = np.array([0, 0])
    joint = ProductKernelDensity(data, categories, min_bandwidth=1e-3)
    apart = ProductKernelDensity(data, categories, min_bandwidth=1e-3, multivariate=False)
    point, corner = np.array([[0.1, 0.1]]), np.array([[0.1, 0.9]])
    assert apart.log_pdf(corner)[0] == pytest.approx(apart.log_pdf(point)[0])
    assert joint.log_pdf(corner)[0] < joint.log_pdf(point)[0] - 0.5
    grid = np.linspace(0, 1, 801)
    xs, ys = np.meshgrid(grid, grid)
    density = np.exp(apart.log_pdf(np.column_stack([xs.ravel(), ys.ravel()]))).reshape(xs.shape)
    assert np.trapezoid(np.trapezoid(density, grid), grid) == pytest.approx(1.0, abs=1e-3)
    rng = np.random.default_rng(5)
    near_corner = [  # candidates barely moved from their centers
        np.abs(kde.sample(rng, 2000, widen=1e-3) - corner).max(axis=1) < 0.05
        for kde in (apart, joint)
    ]
    assert 0.2 < near_corner[0].mean() < 0.3  # one coordinate from each point: 1 in 4
    assert not near_corner[1].any()


def test_the_model_waits_for_enough_points_then_proposes_near_the_good_ones() -> None:
    rng = np.random.default_rng(3)
    categories = np.array([0, 0])
    fit = dict(top_fraction=0.15, min_points=3, min_bandwidth=1e-3, widen=3.0)
    few = rng.random((5, 2))
    assert GoodBadDensities.fit(few, few.sum(axis=1), categories, rng, **fit) is None
    points = rng.random((60, 2))
    losses = np.linalg.norm(points - [0.8, 0.2], axis=1)
    model = GoodBadDensities.fit(points, losses, categories, rng, **fit)
    assert model is not None and len(model.good.data) == 9 and len(model.bad.data) == 51
    proposals = np.array([model.propose(rng, 64) for _ in range(50)])
    assert np.median(np.linalg.norm(proposals - [0.8, 0.2], axis=1)) < np.median(losses) / 2


def test_bandwidths_of_a_few_close_points_do_not_collapse() -> None:
    rng = np.random.default_rng(4)
    points = np.vstack([0.5 + 1e-4 * rng.random((3, 2)), rng.random((10, 2))])
    losses = np.arange(13.0)
    model = GoodBadDensities.fit(
        points,
        losses,
        np.array([0, 0]),
        rng,
        top_fraction=0.15,
        min_points=3,
        min_bandwidth=1e-3,
        widen=3.0,
    )
    assert model is not None
    assert np.all(model.good.bandwidth >= 1 / (3.0 * 4) - 1e-12)  # 3 points: 1 / (3 * 4)


def test_bohb_checks_its_model_options() -> None:
    space = bbopt.Space({"x": hp.uniform("x", 0, 1)})
    for options, message in [
        ({"top_n_percent": 0}, "'top_n_percent' must be in"),
        ({"num_samples": 0}, "'num_samples' must be >= 1"),
        ({"bandwidth_factor": 0.5}, "'bandwidth_factor' must be >= 1"),
        ({"min_bandwidth": -1}, "'min_bandwidth' must be > 0"),
        ({"random_fraction": 2}, "'random_fraction' must be in"),
        ({"multivariate": "no"}, "'multivariate' must be true or false"),
        ({"model_min_results": -1}, "'model_min_results' must be an integer >= 0"),
        ({"model_min_results": 2.5}, "'model_min_results' must be an integer >= 0"),
    ]:
        with pytest.raises(OptionValueError, match=message):
            bbopt.create_backend("bbopt.bohb", space, 0, options)


def test_bohb_learns_at_the_largest_budget_with_a_model() -> None:
    """Told good points at budget 9 only near x = 0.9 and at budget 1 only near x = 0.1,
    BOHB's model points go to x = 0.9: the largest budget with a model decides."""
    space = bbopt.Space({"x": hp.uniform("x", 0, 1), "y": hp.uniform("y", 0, 1)})
    backend = bbopt.create_backend(
        "bbopt.bohb", space, 0, {"min_budget": 1, "max_budget": 9, "random_fraction": 0}
    )
    rng = np.random.default_rng(5)
    for budget, centre in ((1.0, 0.1), (9.0, 0.9)):
        for _ in range(30):
            flat = {"x": float(rng.random()), "y": float(rng.random())}
            loss = abs(flat["x"] - centre)
            backend.tell(bbopt.backends.Observation(flat, loss, budget=budget))
    xs = [s.flat_params["x"] for s in backend.ask(20)]
    assert np.median(xs) > 0.7, xs


def _told_two_budgets(options: dict[str, object]) -> list[float]:
    """x of 20 model points from BOHB told 40 results at budget 1, good near x = 0.1,
    and 12 at budget 9, good near x = 0.9 (enough there for a model of 2 parameters)."""
    space = bbopt.Space({"x": hp.uniform("x", 0, 1), "y": hp.uniform("y", 0, 1)})
    backend = bbopt.create_backend(
        "bbopt.bohb", space, 0, {"min_budget": 1, "max_budget": 9, "random_fraction": 0, **options}
    )
    rng = np.random.default_rng(6)
    for budget, centre, count in ((1.0, 0.1, 40), (9.0, 0.9, 12)):
        for _ in range(count):
            flat = {"x": float(rng.random()), "y": float(rng.random())}
            backend.tell(bbopt.backends.Observation(flat, abs(flat["x"] - centre), budget=budget))
    return [s.flat_params["x"] for s in backend.ask(20)]


def test_bohb_models_the_largest_budget_with_model_min_results() -> None:
    """By default (30 results for 2 parameters) budget 9's 12 results are too few and
    budget 1's model decides; with model_min_results=0 (HpBandSter) budget 9's does."""
    assert np.median(_told_two_budgets({})) < 0.3
    assert np.median(_told_two_budgets({"model_min_results": 0})) > 0.7
    assert np.median(_told_two_budgets({"model_min_results": 12})) > 0.7
