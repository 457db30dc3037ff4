"""Whether an operation asks for a nested field, read from the resolving field's selection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from warehouse_gql.api.graphql.context import Info


def _fields(selection_set: SelectionSetNode | None, info: Info) -> Iterable[FieldNode]:
    """The fields of a selection set, through inline fragments and fragment spreads."""
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, info)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = info._raw_info.fragments.get(selection.name.value)
            if fragment is not None:
                yield from _fields(fragment.selection_set, info)


def selects(info: Info, path: Sequence[str]) -> bool:
    """True when the field being resolved selects `path` (e.g. edges > node > bin) anywhere
    in its selection; directives are not evaluated, so a skipped field counts as selected."""
    level: list[FieldNode] = list(info._raw_info.field_nodes)
    for name in path:
        level = [
            f for node in level for f in _fields(node.selection_set, info) if f.name.value == name
        ]
        if not level:
            return False
    return True
