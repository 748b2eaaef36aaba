"""Text features read from CSV pass the suite's type check (pandas 3 reads text as StringDtype)."""

import io

import pandas as pd

from mlops.validation.checkpoint import as_gx_sees_it
from mlops.validation.expectations import TEXT_TYPES


def test_text_read_from_csv_passes_the_text_type_check():
    import great_expectations as gx

    written = pd.DataFrame({"amount": [1.5, 2.0, None, 4.0], "colour": ["red", "blue", None, "red"]})
    frame = pd.read_csv(io.StringIO(written.to_csv(index=False)))
    assert isinstance(frame["colour"].dtype, pd.StringDtype)  # the case this covers

    context = gx.get_context(mode="ephemeral")
    batch_definition = (
        context.data_sources.add_pandas("memory")
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("whole")
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": as_gx_sees_it(frame)})
    result = batch.validate(gx.expectations.ExpectColumnValuesToBeInTypeList(column="colour", type_list=TEXT_TYPES))
    assert result.success, result.result
