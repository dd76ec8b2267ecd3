"""The API reference (``api-ref/``) rendered from the OpenAPI document at build time.

OpenStack projects publish their API reference with os-api-ref: one ``.inc`` per
resource of ``.. rest_method::`` and ``.. rest_parameters:: parameters.yaml``
stanzas. Written by hand those drift from what the code serves (issue 16), so
``render`` writes them from ``pooling_api/openapi.yaml`` -- itself generated from
the route table and the JSON schemas, and checked current by a unit test --
every time Sphinx builds (``api-ref/source/_extensions/pooling_api_ref.py``).
Only prose is written by hand, in ``api-ref/source``: a title and an
introduction per resource (``<resource>.inc``) and one description per field
(``fields.yaml``). A route or a field without them is a build warning, which
``sphinx-build -W`` turns into a failure.

This module reads YAML and writes text; it imports nothing of the service, so
the docs build needs neither its dependencies (but PyYAML and jsonschema, which
checks the sample values) nor a database.
"""

from __future__ import annotations

import dataclasses
import json
import os

import jsonschema
import yaml

OPENAPI = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'openapi.yaml')
SINCE = 'x-min-version'
# os-api-ref sorts parameters.yaml by section in this order, then by name.
SECTIONS = ('header', 'path', 'query', 'body')
METHOD_ORDER = ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')
# Generated files go here, under the Sphinx source folder (ignored by git).
GENERATED = '_generated'


@dataclasses.dataclass(frozen=True)
class Operation:
    """One (method, path) of the OpenAPI document, as the reference shows it."""

    resource: str
    method: str
    path: str
    op: dict

    @property
    def anchor(self) -> str:
        return self.op['operationId'].replace('_', '-')


@dataclasses.dataclass(frozen=True)
class Example:
    """A request or response body the reference shows, with the schema it must match."""

    operation: Operation
    kind: str  # 'request' or 'response'
    schema: dict
    body: object


def load(path: str = OPENAPI) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def resource_of(path: str) -> str:
    """The reference page a path belongs to: its first segment under /v1."""
    parts = [p for p in path.split('/') if p]
    if not parts or parts == ['v1']:
        return 'versions'
    return parts[1] if parts[0] == 'v1' else parts[0]


def operations(doc: dict) -> list[Operation]:
    """Every operation, grouped by resource (versions first, the others by name)."""
    found = [Operation(resource_of(path), method.upper(), path, op)
             for path, methods in doc['paths'].items() for method, op in methods.items()]
    return sorted(found, key=lambda o: (o.resource != 'versions', o.resource, o.path,
                                        METHOD_ORDER.index(o.method)))


def resources(doc: dict) -> list[str]:
    seen = []
    for operation in operations(doc):
        if operation.resource not in seen:
            seen.append(operation.resource)
    return seen


def _types(schema: dict) -> list[str]:
    kind = schema.get('type')
    if kind is None and 'enum' in schema:
        kind = sorted({type(v).__name__.replace('str', 'string') for v in schema['enum']})
    if kind is None:
        return []
    return kind if isinstance(kind, list) else [kind]


def _type_name(schema: dict) -> str:
    names = [t for t in _types(schema) if t != 'null'] or ['object']
    return ' or '.join({'number': 'float'}.get(t, t) for t in names)


def flatten(schema: dict, prefix: str = ''):
    """(dotted name, schema, required) for every property, nested ones os-api-ref style
    (``slices.host``); an array's items speak for the array's name."""
    required = set(schema.get('required') or ())
    for name, prop in (schema.get('properties') or {}).items():
        yield prefix + name, prop, name in required
        inner = prop.get('items', prop) if 'array' in _types(prop) else prop
        if isinstance(inner, dict) and inner.get('properties'):
            yield from flatten(inner, prefix + name + '.')


class Renderer:
    """Turns the OpenAPI document and the hand-written field descriptions into the
    generated files; ``warnings`` says what prose is missing."""

    def __init__(self, doc: dict, fields: dict):
        self.doc = doc
        self.descriptions = fields.get('descriptions') or {}
        self.samples = fields.get('examples') or {}
        self.parameters: dict[str, dict] = {}
        self.statuses: dict[int, dict] = {}
        self.warnings: list[str] = []

    # -- descriptions ---------------------------------------------------------------
    def _lookup(self, resource: str, where: str, name: str) -> str | None:
        """The most specific description of fields.yaml: ``resource:in:name``,
        ``in:name``, ``resource:name``, ``name`` (``in``: header, path, query, request
        or response), for the dotted name and then for each
        shorter tail of it (``quota.usage.vgpus``, ``usage.vgpus``, ``vgpus``)."""
        parts = name.split('.')
        for start in range(len(parts)):
            tail = '.'.join(parts[start:])
            for key in ('%s:%s:%s' % (resource, where, tail), '%s:%s' % (where, tail),
                        '%s:%s' % (resource, tail), tail):
                if key in self.descriptions:
                    return self.descriptions[key]
        return None

    def _describe(self, resource: str, where: str, name: str, schema: dict) -> str:
        text = schema.get('description') or self._lookup(resource, where, name)
        if text is None:
            warning = ('api-ref: no description of %r (%s, in %s); add it to '
                       'api-ref/source/fields.yaml' % (name, resource, where))
            if warning not in self.warnings:
                self.warnings.append(warning)
            text = ''
        facts = []
        if 'enum' in schema:
            facts.append('One of %s.' % ', '.join('``%s``' % v for v in schema['enum']))
        if 'minimum' in schema and 'maximum' in schema:
            facts.append('From %s to %s.' % (schema['minimum'], schema['maximum']))
        elif 'minimum' in schema:
            facts.append('At least %s.' % schema['minimum'])
        if 'maxLength' in schema:
            facts.append('At most %d characters.' % schema['maxLength'])
        if 'null' in _types(schema):
            facts.append('May be ``null``.')
        return ' '.join([text.strip()] + facts).strip()

    def _parameter(self, operation: Operation, where: str, name: str, schema: dict,
                   required: bool, direction: str = '') -> str:
        """The parameters.yaml key of one parameter, defining it on first use."""
        scope = direction if direction in ('request', 'response') else where
        entry = {'description': self._describe(operation.resource, scope, name, schema),
                 'in': where, 'required': bool(required), 'type': _type_name(schema)}
        if SINCE in schema:
            entry['min_version'] = str(schema[SINCE])
        key = '-'.join(filter(None, (name, operation.resource, direction or where)))
        if self.parameters.get(key, entry) != entry:
            key += '-' + operation.op['operationId']
        self.parameters[key] = entry
        return key

    # -- examples -------------------------------------------------------------------
    def example(self, schema: dict, name: str = '', resource: str = '',
                minimal: bool = False):
        """A body that matches ``schema``: its own example, else one made from it with
        the sample values of fields.yaml where they fit. ``minimal`` (requests): only
        what the schema requires; else (answers) every field."""
        if 'examples' in schema:
            return schema['examples'][0]
        sample = self._sample(resource, name)
        if sample is not None and jsonschema.Draft202012Validator(schema).is_valid(sample):
            return sample
        if 'enum' in schema:
            return schema['enum'][0]
        if not schema:
            # An empty schema accepts any value: show the field's own name as its sample.
            return name.rsplit('.', 1)[-1]
        kind = ([t for t in _types(schema) if t != 'null'] or ['object'])[0]
        if kind == 'object':
            return self._object_example(schema, name, resource, minimal)
        if kind == 'array':
            items = schema.get('items')
            return [self.example(items, name, resource, minimal)] if items else []
        if kind == 'integer':
            return max(int(schema.get('minimum', 1)), 1)
        if kind == 'number':
            low, high = schema.get('minimum', 0), schema.get('maximum', 100)
            return 25.0 if low <= 25.0 <= high else float(low)
        if kind == 'boolean':
            return True
        return name.rsplit('.', 1)[-1] or 'string'

    def _sample(self, resource: str, name: str):
        parts = name.split('.')
        for start in range(len(parts)):
            tail = '.'.join(parts[start:])
            for key in ('%s:%s' % (resource, tail), tail):
                if key in self.samples:
                    return self.samples[key]
        return None

    def _object_example(self, schema: dict, name: str, resource: str, minimal: bool) -> dict:
        props = dict(schema.get('properties') or {})
        required = list(schema.get('required') or ())
        keys = list(props)
        if schema.get('oneOf'):
            # Either-or bodies: show the first choice, without what it refuses.
            branch = schema['oneOf'][0]
            refused = {k for alt in branch.get('not', {}).get('anyOf', [branch.get('not', {})])
                       for k in alt.get('required', ())}
            keys = [k for k in keys if k not in refused]
            required += [k for k in branch.get('required', ()) if k not in required]
        if minimal:
            wanted = max(schema.get('minProperties', 0) - len(required), 0)
            keys = required + [k for k in keys if k not in required][:wanted]
        out = {}
        for key in keys + [k for k in required if k not in keys]:
            out[key] = self.example(props.get(key, {}),
                                    (name + '.' if name else '') + key, resource, minimal)
        return out

    # -- rendering ------------------------------------------------------------------
    def _status(self, code: str, text: str) -> str:
        """A status list item (``200: default``), defining its reason in status.yaml."""
        reasons = self.statuses.setdefault(int(code), {})
        for reason, known in reasons.items():
            if known == text:
                return '%d: %s' % (int(code), reason)
        reason = 'default' if not reasons else 'reason%d' % len(reasons)
        reasons[reason] = text
        return '%d: %s' % (int(code), reason)

    def _body_schema(self, holder: dict | None, media: str = 'application/json'):
        return ((holder or {}).get('content') or {}).get(media, {}).get('schema')

    def operation(self, operation: Operation) -> list[str]:
        op = operation.op
        title = op.get('summary') or op['operationId']
        lines = ['.. _%s:' % operation.anchor, '', title, '-' * len(title), '',
                 '.. rest_method:: %s %s' % (operation.method, operation.path)]
        if SINCE in op:
            lines += ['', '   min_version: %s' % op[SINCE]]
        lines.append('')
        if op.get('description'):
            lines += [op['description'].strip(), '']
        if SINCE in op:
            lines += ['**New in version %s**: with an older microversion this route answers '
                      '404.' % op[SINCE], '']
        codes = sorted(op['responses'])
        lines += ['.. rest_status_code:: success %s/status.yaml' % GENERATED, '']
        lines += ['   - %s' % self._status(c, op['responses'][c]['description'])
                  for c in codes if c.startswith('2')]
        lines += ['', '.. rest_status_code:: error %s/status.yaml' % GENERATED, '']
        lines += ['   - %s' % self._status(c, op['responses'][c]['description'])
                  for c in codes if not c.startswith('2')]
        lines.append('')
        request = []
        for param in op.get('parameters', ()):
            request.append((param['name'], self._parameter(
                operation, param['in'], param['name'], param['schema'],
                param.get('required', False))))
        body = self._body_schema(op.get('requestBody'))
        if body is not None:
            request += [(n, self._parameter(operation, 'body', n, s, r, 'request'))
                        for n, s, r in flatten(body)]
        lines += ['Request', '~~~~~~~', '']
        lines += self._table(request) or ['This request takes no parameters.', '']
        if body is not None:
            lines += self._example('Request Example', operation, 'request', body)
        ok = [c for c in codes if c.startswith('2')][0]
        response = self._body_schema(op['responses'][ok])
        lines += ['Response', '~~~~~~~~', '']
        if response is not None:
            rows = [(n, self._parameter(operation, 'body', n, s, r, 'response'))
                    for n, s, r in flatten(response)]
            lines += self._table(rows)
            lines += self._example('Response Example', operation, 'response', response)
        elif self._body_schema(op['responses'][ok], 'text/plain') is not None:
            lines += ['The body is text (``%s``), not JSON.' % self._body_schema(
                op['responses'][ok], 'text/plain').get('contentMediaType', 'text/plain'), '']
        else:
            lines += ['There is no body.', '']
        return lines

    def _table(self, rows: list[tuple[str, str]]) -> list[str]:
        if not rows:
            return []
        out = ['.. rest_parameters:: %s/parameters.yaml' % GENERATED, '']
        out += ['   - %s: %s' % (name, key) for name, key in rows]
        return out + ['']

    def _example(self, title: str, operation: Operation, kind: str, schema: dict,
                 underline: str = '^'):
        body = self.example(schema, resource=operation.resource, minimal=kind == 'request')
        self.examples.append(Example(operation, kind, schema, body))
        text = json.dumps(body, indent=4, sort_keys=False)
        return ([title, underline * len(title), '', '.. code-block:: json', '']
                + ['   ' + line for line in text.splitlines()] + [''])

    def render(self) -> dict[str, str]:
        """File name (relative to the generated folder) → text."""
        self.examples: list[Example] = []
        files = {}
        ops = operations(self.doc)
        for resource in resources(self.doc):
            lines = ['.. Generated from pooling_api/openapi.yaml by pooling_api.api_ref;',
                     '   do not edit.', '']
            for operation in ops:
                if operation.resource == resource:
                    lines += self.operation(operation)
            files['%s.inc' % resource] = '\n'.join(lines)
        files['errors.inc'] = '\n'.join(self._errors(ops))
        files['index.inc'] = '\n'.join(
            '.. include:: /%s.inc\n.. include:: /%s/%s.inc\n' % (r, GENERATED, r)
            for r in resources(self.doc))
        files['parameters.yaml'] = self._dump_parameters()
        files['status.yaml'] = yaml.safe_dump(self.statuses, sort_keys=True, width=100)
        return files

    def _errors(self, ops: list[Operation]) -> list[str]:
        """Every error answer has one shape; show it once."""
        for operation in ops:
            for code, answer in sorted(operation.op['responses'].items()):
                schema = self._body_schema(answer)
                if not code.startswith('2') and schema is not None:
                    # A plain table: os-api-ref's needs a rest_method before it.
                    rows = ['.. list-table::', '   :header-rows: 1', '',
                            '   * - Name', '     - Type', '     - Description']
                    for name, prop, _required in flatten(schema):
                        rows += ['   * - ``%s``' % name, '     - %s' % _type_name(prop),
                                 '     - %s' % self._describe(operation.resource, 'response',
                                                              name, prop)]
                    return (rows + ['']
                            + self._example('Error Example', operation, 'error', schema, '~'))
        return []

    def _dump_parameters(self) -> str:
        ordered = sorted(self.parameters.items(),
                         key=lambda kv: (SECTIONS.index(kv[1]['in']), kv[0].lower()))
        out = []
        for key, entry in ordered:
            out.append(yaml.safe_dump({key: entry}, sort_keys=True, width=100))
        return ''.join(out)


def render(doc: dict, fields: dict) -> tuple[dict[str, str], list[str], list[Example]]:
    """(generated files, warnings about missing prose, the examples shown)."""
    renderer = Renderer(doc, fields)
    files = renderer.render()
    return files, renderer.warnings, renderer.examples


def write(srcdir: str, doc: dict | None = None) -> list[str]:
    """Write the generated files under ``srcdir``/_generated (only those that changed,
    so Sphinx rebuilds only what changed); return the warnings."""
    with open(os.path.join(srcdir, 'fields.yaml')) as f:
        fields = yaml.safe_load(f) or {}
    doc = load() if doc is None else doc
    files, warnings, _examples = render(doc, fields)
    for resource in resources(doc):
        if not os.path.exists(os.path.join(srcdir, '%s.inc' % resource)):
            warnings.append('api-ref: no introduction for %r; write api-ref/source/%s.inc '
                            '(a title and what the resource is for)' % (resource, resource))
    out = os.path.join(srcdir, GENERATED)
    os.makedirs(out, exist_ok=True)
    for name, text in files.items():
        target = os.path.join(out, name)
        if os.path.exists(target):
            with open(target) as f:
                if f.read() == text:
                    continue
        with open(target, 'w') as f:
            f.write(text)
    return warnings
