"""Great Expectations: the context in gx/ (`context`), running the suite over data (`checkpoint`),
inferring one (`expectations`), storing results (`results_store`) and telling people the outcome (`summary`).
"""
