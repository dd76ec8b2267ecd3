"""The admin guide's RBAC table is the tested one: rbac.md renders rbac-matrix.csv.

``python -m tests.unit.api.test_rbac_doc`` prints the rendering to paste
between the markers of doc/source/admin/rbac.md after editing the CSV.
"""

import csv
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / 'doc/source/admin'
BEGIN, END = '<!-- rbac-matrix.csv begins -->', '<!-- rbac-matrix.csv ends -->'


def render() -> str:
    with (DOC / 'rbac-matrix.csv').open() as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    cols = [head[0], head[1]] + head[3:]
    lines = ['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)]
    for row in body:
        path = row[1] + (' `%s`' % row[2] if row[2] else '')
        lines.append('| ' + ' | '.join([row[0], path.replace('|', '\\|')] + row[3:]) + ' |')
    return '\n'.join(lines)


def test_doc_table_is_the_csv():
    text = (DOC / 'rbac.md').read_text()
    table = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == render(), 'run: python -m tests.unit.api.test_rbac_doc'


if __name__ == '__main__':
    print(render())
