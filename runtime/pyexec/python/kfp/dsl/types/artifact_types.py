"""Artifact classes: an artifact is a name, a URI and metadata; .path is
where the component reads or writes its file."""

import os

# Where KFP's SDK expects an artifact's file for each remote scheme.
_MOUNTS = (("gs://", "/gcs/"), ("minio://", "/minio/"), ("s3://", "/s3/"))

# The directory of the task's outputs; the executor sets it from the
# executor input's outputFile. dsl.get_uri() makes URIs under it.
CONTAINER_TASK_ROOT = None


def _uri_to_path(uri):
    for remote, local in _MOUNTS:
        if uri.startswith(remote):
            return local + uri[len(remote):]
    if uri.startswith("file://"):
        return uri[len("file://"):]
    return uri


def _path_to_uri(path):
    for remote, local in _MOUNTS:
        if path.startswith(local):
            return remote + path[len(local):]
    return path


class Artifact:
    """A generic artifact."""

    schema_title = "system.Artifact"
    schema_version = "0.0.1"

    def __init__(self, name=None, uri=None, metadata=None):
        self.name = name or ""
        self.uri = uri or ""
        self.metadata = metadata if metadata is not None else {}
        self.custom_path = ""

    @property
    def path(self):
        if self.custom_path:
            return self.custom_path
        return _uri_to_path(self.uri)

    @path.setter
    def path(self, value):
        self.uri = _path_to_uri(value)

    def set_path(self, path):
        """Writes the artifact at path instead of its default place; the
        launcher uploads it from there."""
        self.custom_path = path

    def __repr__(self):
        return "%s(name=%r, uri=%r, metadata=%r)" % (type(self).__name__, self.name, self.uri, self.metadata)


class Model(Artifact):
    """A trained model."""

    schema_title = "system.Model"

    @property
    def framework(self):
        return self.metadata.get("framework", "")

    @framework.setter
    def framework(self, value):
        self.metadata["framework"] = value


class Dataset(Artifact):
    """A data set."""

    schema_title = "system.Dataset"


class Metrics(Artifact):
    """Scalar metrics, kept in the artifact's metadata."""

    schema_title = "system.Metrics"

    def log_metric(self, metric, value):
        self.metadata[metric] = value


class ClassificationMetrics(Artifact):
    """ROC curve and confusion matrix, kept in the artifact's metadata in
    the schema the KFP UI reads (confidenceMetrics, confusionMatrix)."""

    schema_title = "system.ClassificationMetrics"

    def __init__(self, name=None, uri=None, metadata=None):
        super().__init__(name, uri, metadata)
        self._categories = []
        self._rows = []

    def log_roc_data_point(self, fpr, tpr, threshold):
        self.metadata.setdefault("confidenceMetrics", []).append(
            {"confidenceThreshold": threshold, "recall": tpr, "falsePositiveRate": fpr})

    def log_roc_curve(self, fpr, tpr, threshold):
        if not len(fpr) == len(tpr) == len(threshold):
            raise ValueError("fpr, tpr and threshold must have the same length, got %d, %d and %d"
                             % (len(fpr), len(tpr), len(threshold)))
        for f, t, th in zip(fpr, tpr, threshold):
            self.log_roc_data_point(fpr=f, tpr=t, threshold=th)

    def load_roc_readings(self, readings):
        for threshold, tpr, fpr in readings:
            self.log_roc_data_point(fpr=fpr, tpr=tpr, threshold=threshold)

    def _publish(self):
        self.metadata["confusionMatrix"] = {
            "annotationSpecs": [{"displayName": c} for c in self._categories],
            "rows": [{"row": list(r)} for r in self._rows],
        }

    def set_confusion_matrix_categories(self, categories):
        self._categories = [str(c) for c in categories]
        self._rows = [[0] * len(self._categories) for _ in self._categories]
        self._publish()

    def _index(self, category):
        try:
            return self._categories.index(str(category))
        except ValueError:
            raise ValueError("unknown category %r, expected one of %r" % (category, self._categories)) from None

    def log_confusion_matrix_row(self, row_category, row):
        if len(row) != len(self._categories):
            raise ValueError("a row has %d values, expected %d" % (len(row), len(self._categories)))
        self._rows[self._index(row_category)] = list(row)
        self._publish()

    def log_confusion_matrix_cell(self, row_category, col_category, value):
        self._rows[self._index(row_category)][self._index(col_category)] = value
        self._publish()

    def log_confusion_matrix(self, categories, matrix):
        self.set_confusion_matrix_categories(categories)
        if len(matrix) != len(categories):
            raise ValueError("the matrix has %d rows for %d categories" % (len(matrix), len(categories)))
        for category, row in zip(categories, matrix):
            self.log_confusion_matrix_row(category, row)


class SlicedClassificationMetrics(Artifact):
    """Classification metrics per slice of the data."""

    schema_title = "system.SlicedClassificationMetrics"

    def __init__(self, name=None, uri=None, metadata=None):
        super().__init__(name, uri, metadata)
        self._slices = {}

    def _slice(self, name):
        if name not in self._slices:
            self._slices[name] = ClassificationMetrics()
        return self._slices[name]

    def _publish(self):
        self.metadata["evaluationSlices"] = [
            {"slice": name, "sliceClassificationMetrics": m.metadata} for name, m in self._slices.items()]

    def log_roc_reading(self, slice, threshold, tpr, fpr):
        self._slice(slice).log_roc_data_point(fpr=fpr, tpr=tpr, threshold=threshold)
        self._publish()

    def load_roc_readings(self, slice, readings):
        self._slice(slice).load_roc_readings(readings)
        self._publish()

    def set_confusion_matrix_categories(self, slice, categories):
        self._slice(slice).set_confusion_matrix_categories(categories)
        self._publish()

    def log_confusion_matrix_row(self, slice, row_category, row):
        self._slice(slice).log_confusion_matrix_row(row_category, row)
        self._publish()

    def log_confusion_matrix_cell(self, slice, row_category, col_category, value):
        self._slice(slice).log_confusion_matrix_cell(row_category, col_category, value)
        self._publish()

    def load_confusion_matrix(self, slice, categories, matrix):
        self._slice(slice).log_confusion_matrix(categories, matrix)
        self._publish()


class HTML(Artifact):
    """An HTML page, shown by the UI."""

    schema_title = "system.HTML"


class Markdown(Artifact):
    """A Markdown document, shown by the UI."""

    schema_title = "system.Markdown"


_SCHEMA_TITLE_TO_TYPE = {
    cls.schema_title: cls
    for cls in (Artifact, Model, Dataset, Metrics, ClassificationMetrics, SlicedClassificationMetrics, HTML, Markdown)
}


def get_uri(suffix="Output"):
    """A URI for an artifact that the component creates and returns
    (`-> Dataset`): a file in the task's output directory."""
    if CONTAINER_TASK_ROOT is None:
        raise RuntimeError("dsl.get_uri() works only inside a running component")
    return os.path.join(CONTAINER_TASK_ROOT, suffix)
