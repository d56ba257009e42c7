import numpy as np
import pytest
from scipy import ndimage

from drai.data.lidc.dicom_series import SeriesGeometry, dicom_files, read_series
from drai.data.lidc.patches import annotation_to_world, case_patches, window_to_unit
from drai.data.lidc.synthetic import render_phantom
from toys import lidc_patch_settings


@pytest.mark.parametrize(
    "matrix, pixel_spacing, slice_spacing, nodule",
    [
        (64, 5.0, 4.0, (-70.0, -30.0, -40.0)),
        (96, 3.3, 2.5, (25.5, 10.2, -61.3)),
        (128, 2.6, 1.5, (52.0, -12.7, -52.0)),
    ],
)
def test_nodule_at_known_world_point_is_at_patch_centre(tmp_path, matrix, pixel_spacing, slice_spacing, nodule):
    fov = matrix * pixel_spacing
    folder = render_phantom(
        tmp_path / "s",
        matrix,
        pixel_spacing,
        slice_spacing,
        n_slices=int(120 / slice_spacing),
        nodule_world=nodule,
        nodule_radius_mm=6.0,
        origin_xy=(-fov / 2, -fov / 2),
        z0=-110.0,
    )
    series = read_series(dicom_files(folder))
    settings = lidc_patch_settings(volume_size=128, patch_size=24, output_size=64, stored_size=64)
    image = case_patches(series.to_sitk(), np.array([nodule]), settings).images[0]
    blob = ndimage.label(image > 0.0)[0]
    centre_label = blob[32, 32]
    assert centre_label > 0, "no nodule at the patch centre"
    cy, cx = ndimage.center_of_mass(blob == centre_label)
    # The patch centre lies between pixels 31 and 32: (31.5, 31.5).
    assert abs(cy - 31.5) <= 1.0 and abs(cx - 31.5) <= 1.0


def test_annotation_grid_equals_series_grid_for_real_data():
    geometry = SeriesGeometry(origin=(-170.0, -160.0, 50.0), spacing=(0.7, 0.7, 2.5), shape=(10, 512, 512))
    world = annotation_to_world(row=100, col=200, z_mm=55.0, geometry=geometry, annotation_spacing=0.7)
    np.testing.assert_allclose(world, [-170.0 + 200 * 0.7, -160.0 + 100 * 0.7, 55.0])


def test_annotation_grid_maps_onto_a_coarser_series_with_the_same_field_of_view():
    # 512 x 0.5 mm annotation grid; the series covers the same 256 mm with 128 x 2 mm pixels.
    geometry = SeriesGeometry(origin=(-127.0, -127.0, 0.0), spacing=(2.0, 2.0, 1.0), shape=(1, 128, 128))
    world = annotation_to_world(row=0, col=511, z_mm=0.0, geometry=geometry, annotation_spacing=0.5)
    np.testing.assert_allclose(world[:2], [127.75, -127.75])


def test_window_maps_to_unit_interval():
    np.testing.assert_allclose(
        window_to_unit(np.array([-2000.0, -1000, -300, 400, 900]), (-1000, 400)), [-1, -1, 0, 1, 1]
    )
    with pytest.raises(ValueError):
        window_to_unit(np.zeros(2), (400, -1000))


def test_a_region_of_the_resampled_grid_equals_the_whole_resample(tmp_path):
    import SimpleITK as sitk

    from drai.data.lidc.patches import ResampledGrid, resample_to_size

    folder = render_phantom(tmp_path / "s", 48, 6.0, 5.0, n_slices=20, nodule_world=(10.0, 5.0, -60.0))
    image = read_series(dicom_files(folder)).to_sitk()
    whole = resample_to_size(image, 40)
    grid = ResampledGrid.of(image, 40)
    part = grid.sample(image, (7, 3, 11), (5, 20, 9))
    np.testing.assert_allclose(part, whole[7:12, 3:23, 11:20], atol=1e-4)
    # The grid spans the series' extent: its corner voxels sit half a voxel inside the edges.
    extent = np.array(image.GetSize()) * np.array(image.GetSpacing())
    np.testing.assert_allclose(grid.spacing * 40, extent)
    assert isinstance(image, sitk.Image)


def chest_wall_phantom(tmp_path):
    """A phantom (256 mm field of view) with a nodule touching the right chest wall, and that nodule's world point.

    On the 256^3 grid a stored patch spans 54 voxels of 1 mm, within the field of view."""
    # render_phantom's right lung spans x in [0.05, 0.35] x field of view from the centre; the body wall follows.
    nodule = (0.335 * 254.0, 0.0, -60.0)
    folder = render_phantom(
        tmp_path / "wall",
        128,
        2.0,
        2.5,
        n_slices=48,
        nodule_world=nodule,
        nodule_radius_mm=6.0,
        origin_xy=(-127.0, -127.0),
        z0=-110.0,
    )
    return read_series(dicom_files(folder)).to_sitk(), np.array([nodule])


def test_patch_of_a_nodule_on_the_chest_wall_holds_only_scan_values(tmp_path):
    from drai.data.lidc.patches import ResampledGrid, resample_to_size

    image, points = chest_wall_phantom(tmp_path)
    settings = lidc_patch_settings(volume_size=256, patch_size=48, output_size=64, stored_size=72, patch_slices=3)
    made = case_patches(image, points, settings)
    # The lung box ends inside the patch: the window reaches past it into the wall.
    assert made.lung_box_distance[0] < settings.stored_size * 0.75 / 2
    whole = resample_to_size(image, 256)
    centre = ResampledGrid.of(image, 256).index_of(points[0])
    offsets = (np.arange(72) - 36 + 0.5) * 0.75
    yy, xx = np.meshgrid(centre[1] + offsets, centre[2] + offsets, indexing="ij")
    for patch, offset in zip(made.images, made.slice_offsets, strict=True):
        z = int(np.round(centre[0])) + offset
        expected = window_to_unit(ndimage.map_coordinates(whole[z], [yy, xx], order=1), settings.hu_window)
        np.testing.assert_allclose(patch, expected, atol=1e-4)
    # The wall (soft tissue) is in the patch, right of the nodule.
    assert (made.images[made.slice_offsets == 0][0][:, 60:] > -0.2).mean() > 0.5


def test_centre_crop_of_the_stored_patch_is_the_64_pixel_patch(tmp_path):
    from drai.data.crops import centre_crop

    image, points = chest_wall_phantom(tmp_path)
    wide = case_patches(image, points, lidc_patch_settings(volume_size=256, stored_size=72, patch_slices=3))
    narrow = case_patches(image, points, lidc_patch_settings(volume_size=256, stored_size=64, patch_slices=3))
    assert wide.images.shape == (3, 72, 72) and narrow.images.shape == (3, 64, 64)
    np.testing.assert_array_equal(centre_crop(wide.images), narrow.images)


def test_all_slices_are_those_within_the_nodule_z_extent(tmp_path):
    from drai.data.lidc.patches import ResampledGrid, slice_offsets, slices_per_nodule

    image, points = chest_wall_phantom(tmp_path)
    grid = ResampledGrid.of(image, 256)
    extent_mm = np.array([[points[0, 2] - 5.0, points[0, 2] + 7.0]])
    made = case_patches(image, points, lidc_patch_settings(volume_size=256, patch_slices="all"), extent_mm)
    z = grid.origin[2] + (int(np.round(grid.index_of(points[0])[0])) + made.slice_offsets) * grid.spacing[2]
    assert 0 in made.slice_offsets
    assert np.all((z >= extent_mm[0, 0] - 1e-6) & (z <= extent_mm[0, 1] + 1e-6))
    # Every grid slice in the extent is there: 12 mm over 0.47 mm slices.
    inside = np.sum(
        (grid.origin[2] + np.arange(256) * grid.spacing[2] >= extent_mm[0, 0])
        & (grid.origin[2] + np.arange(256) * grid.spacing[2] <= extent_mm[0, 1])
    )
    assert len(made.slice_offsets) == inside >= 5
    # The count from slice positions alone (what the paper preset's count is computed with) agrees.
    assert slices_per_nodule(-110.0, 48, 2.5, points[0, 2], tuple(extent_mm[0]), 256, "all") == inside
    # A nodule on one slice between two grid slices still gets its central slice.
    assert list(slice_offsets(10.0, (10.4, 10.4), "all")) == [0]
    assert list(slice_offsets(10.0, None, 3)) == [-1, 0, 1]
    with pytest.raises(ValueError, match="patch_slices"):
        case_patches(image, points, lidc_patch_settings(volume_size=256, patch_slices=2))
    with pytest.raises(ValueError, match="z-extent"):
        case_patches(image, points, lidc_patch_settings(volume_size=256, patch_slices="all"))
