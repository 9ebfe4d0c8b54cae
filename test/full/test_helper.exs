# Full mode: the DBConnection driver and the Ecto adapter's own suites.
Logger.configure(level: :warning)
ExUnit.start()
