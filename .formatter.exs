[
  inputs: ["{mix,.formatter}.exs", "{config,lib,test,integration_test,bench}/**/*.{ex,exs}"],
  line_length: 120
]
