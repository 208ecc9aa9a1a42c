from labreport.record import record

record("train_mse", 0.5)
