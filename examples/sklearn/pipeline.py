"""Trains two scikit-learn classifiers on a data set scikit-learn ships
(no download), evaluates both and keeps the better model.

Compile with the KFP SDK (pip install kfp==2.14.6):

    python3 pipeline.py    # writes pipeline.yaml beside this file

kfstack runs the compiled pipeline.yaml: with the local executor and
Debian's python3-sklearn (`make demo`), or in pods of an image with Python
and scikit-learn (`make image` builds one from Debian packages). kfp need
not be installed: kfstack's launcher brings its own implementation of the
component runtime.
"""
from typing import NamedTuple

from kfp import compiler, dsl
from kfp.dsl import ClassificationMetrics, Dataset, Input, Metrics, Model, Output

IMAGE = 'python:3.11'
PACKAGES = ['scikit-learn']


@dsl.component(base_image=IMAGE, packages_to_install=PACKAGES)
def load_data(dataset_name: str, data: Output[Dataset]):
    """Loads one of scikit-learn's bundled data sets as CSV (last column: the label)."""
    import csv

    from sklearn import datasets

    loaders = {
        'iris': datasets.load_iris,
        'digits': datasets.load_digits,
        'breast_cancer': datasets.load_breast_cancer,
    }
    if dataset_name not in loaders:
        raise ValueError(f'unknown data set {dataset_name!r}; choose one of {sorted(loaders)}')
    bunch = loaders[dataset_name]()
    with open(data.path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(list(bunch.feature_names) + ['label'])
        for row, label in zip(bunch.data, bunch.target):
            writer.writerow([float(v) for v in row] + [int(label)])
    data.metadata['rows'] = len(bunch.target)
    data.metadata['classes'] = [str(c) for c in bunch.target_names]


@dsl.component(base_image=IMAGE, packages_to_install=PACKAGES)
def split_data(data: Input[Dataset], test_fraction: float, seed: int, train: Output[Dataset], test: Output[Dataset]):
    """Splits the data set into a training and a test set, stratified by label."""
    import csv

    from sklearn.model_selection import train_test_split

    with open(data.path, newline='') as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    labels = [row[-1] for row in body]
    train_rows, test_rows = train_test_split(body, test_size=test_fraction, random_state=seed, stratify=labels)
    for artifact, part in ((train, train_rows), (test, test_rows)):
        with open(artifact.path, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(part)
        artifact.metadata['rows'] = len(part)
    train.metadata['classes'] = data.metadata.get('classes', [])
    test.metadata['classes'] = data.metadata.get('classes', [])


@dsl.component(base_image=IMAGE, packages_to_install=PACKAGES)
def train_logistic_regression(train: Input[Dataset], regularization: float, model: Output[Model]):
    """Fits a scaled logistic regression; regularization is sklearn's C."""
    import csv
    import pickle

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with open(train.path, newline='') as f:
        rows = list(csv.reader(f))[1:]
    x = [[float(v) for v in row[:-1]] for row in rows]
    y = [int(row[-1]) for row in rows]
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=regularization, max_iter=2000))
    clf.fit(x, y)
    with open(model.path, 'wb') as f:
        pickle.dump(clf, f)
    model.metadata['framework'] = 'scikit-learn'
    model.metadata['algorithm'] = 'logistic regression'
    model.metadata['C'] = regularization


@dsl.component(base_image=IMAGE, packages_to_install=PACKAGES)
def train_random_forest(train: Input[Dataset], n_estimators: int, seed: int, model: Output[Model]):
    """Fits a random forest of n_estimators trees."""
    import csv
    import pickle

    from sklearn.ensemble import RandomForestClassifier

    with open(train.path, newline='') as f:
        rows = list(csv.reader(f))[1:]
    x = [[float(v) for v in row[:-1]] for row in rows]
    y = [int(row[-1]) for row in rows]
    clf = RandomForestClassifier(n_estimators=n_estimators, random_state=seed)
    clf.fit(x, y)
    with open(model.path, 'wb') as f:
        pickle.dump(clf, f)
    model.metadata['framework'] = 'scikit-learn'
    model.metadata['algorithm'] = 'random forest'
    model.metadata['n_estimators'] = n_estimators


@dsl.component(base_image=IMAGE, packages_to_install=PACKAGES)
def evaluate(test: Input[Dataset], model: Input[Model], metrics: Output[Metrics], confusion: Output[ClassificationMetrics]) -> float:
    """Scores a model on the test set: accuracy and a confusion matrix."""
    import csv
    import pickle

    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    with open(test.path, newline='') as f:
        rows = list(csv.reader(f))[1:]
    x = [[float(v) for v in row[:-1]] for row in rows]
    y = [int(row[-1]) for row in rows]
    with open(model.path, 'rb') as f:
        clf = pickle.load(f)
    predicted = clf.predict(x)
    accuracy = float(accuracy_score(y, predicted))
    metrics.log_metric('accuracy', accuracy)
    metrics.log_metric('f1_macro', float(f1_score(y, predicted, average='macro')))
    metrics.log_metric('test_rows', len(y))
    metrics.metadata['algorithm'] = model.metadata.get('algorithm', '')
    labels = sorted(set(y))
    classes = test.metadata.get('classes') or [str(c) for c in labels]
    matrix = confusion_matrix(y, predicted, labels=labels)
    confusion.log_confusion_matrix([classes[c] for c in labels], [[int(v) for v in row] for row in matrix])
    return accuracy


@dsl.component(base_image=IMAGE, packages_to_install=PACKAGES)
def pick_best(
    first: Input[Model],
    first_accuracy: float,
    second: Input[Model],
    second_accuracy: float,
    best: Output[Model],
) -> NamedTuple('Outputs', [('algorithm', str), ('accuracy', float)]):
    """Keeps the more accurate model (the first one on a tie)."""
    import shutil
    from collections import namedtuple

    winner, accuracy = (first, first_accuracy) if first_accuracy >= second_accuracy else (second, second_accuracy)
    shutil.copyfile(winner.path, best.path)
    best.metadata.update(winner.metadata)
    best.metadata['accuracy'] = accuracy
    outputs = namedtuple('Outputs', ['algorithm', 'accuracy'])
    return outputs(winner.metadata.get('algorithm', ''), accuracy)


@dsl.pipeline(name='sklearn-classifiers', description='Two scikit-learn classifiers on a bundled data set; the better one is kept.')
def sklearn_classifiers(
    dataset: str = 'iris',
    test_fraction: float = 0.25,
    regularization: float = 1.0,
    n_estimators: int = 50,
    seed: int = 0,
) -> NamedTuple('Outputs', [('algorithm', str), ('accuracy', float)]):
    data = load_data(dataset_name=dataset)
    split = split_data(data=data.outputs['data'], test_fraction=test_fraction, seed=seed)
    lr = train_logistic_regression(train=split.outputs['train'], regularization=regularization)
    rf = train_random_forest(train=split.outputs['train'], n_estimators=n_estimators, seed=seed)
    lr_eval = evaluate(test=split.outputs['test'], model=lr.outputs['model'])
    rf_eval = evaluate(test=split.outputs['test'], model=rf.outputs['model'])
    best = pick_best(
        first=lr.outputs['model'],
        first_accuracy=lr_eval.outputs['Output'],
        second=rf.outputs['model'],
        second_accuracy=rf_eval.outputs['Output'],
    )
    outputs = NamedTuple('Outputs', [('algorithm', str), ('accuracy', float)])
    return outputs(best.outputs['algorithm'], best.outputs['accuracy'])


if __name__ == '__main__':
    compiler.Compiler().compile(sklearn_classifiers, package_path=__file__.replace('.py', '.yaml'))
